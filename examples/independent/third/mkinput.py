#!/usr/bin/env python3
"""mkinput.py KIND N FILE [PREFIX]
plain: model `m`, a short prompt (~40 chars), max_tokens 128.
tok:   prompts of uniform(200, 2400) characters (seed 42), max_tokens 256."""
import json, random, sys
kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
prefix = sys.argv[4] if len(sys.argv) > 4 else "r"
r = random.Random(42)
WORDS = "the rate limit of a language model service depends on load tokens and time".split()
with open(out, "w") as f:
    for i in range(n):
        if kind == "tok":
            k = r.randint(200, 2400)
            text = ""
            while len(text) < k:
                text += r.choice(WORDS) + " "
            text = text[:k]
            mt = 256
        else:
            text = "Write one line about rate limits, #%d." % i
            mt = 128
        f.write(json.dumps({"custom_id": "%s%d" % (prefix, i), "body": {"model": "m",
                "messages": [{"role": "user", "content": text}], "max_tokens": mt}}) + "\n")
