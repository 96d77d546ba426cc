import json, random, sys
kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
prefix = sys.argv[4] if len(sys.argv) > 4 else "r"
r = random.Random(42)
with open(out, "w") as f:
    for i in range(n):
        model = "m"; mt = 5
        if kind == "tpm": mt = r.randint(5, 60)
        if kind == "permodel": model = "m-fast" if i % 2 == 0 else "m-slow"
        f.write(json.dumps({"custom_id": "%s%d" % (prefix, i), "body": {"model": model,
                "messages": [{"role": "user", "content": "hi"}], "max_tokens": mt}}) + "\n")
