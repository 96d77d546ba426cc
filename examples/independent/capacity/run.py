"""Runs the unmodified `batch` example against `server.py` (a server out of capacity that
refuses with 503s, its rate-limit headers reporting plenty left, as Together's do below an
account's limits): 300 lines at --concurrency 64 per run, real clock. Prints one Markdown row
per header setting: goodput median / worst (the server's ideal over its span), refusals per
request median / worst, lines lost per run, exit codes, machine load.

  python3 examples/independent/capacity/run.py [--runs 3] [--status 503] [--headers together,none]
  BATCH=/path/to/batch python3 examples/independent/capacity/run.py   (another build)
"""
import argparse, json, os, socket, statistics, subprocess, sys, tempfile, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BATCH = os.environ.get("BATCH", os.path.join(ROOT, "target", "release", "examples", "batch"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def one(headers, status, seed, work):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "server.py"), str(port), "--seed", str(seed),
         "--headers", headers, "--status", status],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server.stdout.readline()
    inp, out = os.path.join(work, "in.jsonl"), os.path.join(work, "out.jsonl")
    with open(inp, "w") as f:
        for i in range(300):
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
            f.write(json.dumps({"custom_id": f"r{i}", "body": body}) + "\n")
    if os.path.exists(out):
        os.remove(out)
    env = dict(os.environ, TOGETHER_API_KEY="k", TOGETHER_BASE_URL=f"http://127.0.0.1:{port}/v1")
    env.pop("TOGETHER_RATE_LIMIT_REDIS", None)
    try:
        rc = subprocess.run([BATCH, "--input", inp, "--output", out, "--concurrency", "64", "--quiet"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            timeout=180).returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/stats", timeout=5))
    server.kill()
    server.wait()
    answered = set()
    if os.path.exists(out):
        for line in open(out):
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if "response" in o:
                answered.add(o.get("custom_id"))
    lost = sum(1 for i in range(300) if f"r{i}" not in answered)
    load = open("/proc/loadavg").read().split()[0]
    return stats["goodput"], stats["refused"] / 300, lost, rc, load


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--status", default="503")
    p.add_argument("--headers", default="together,none")
    a = p.parse_args()
    print("| headers | status | runs | goodput med / worst | refused/req med / worst | lost per run | exit codes | load |")
    print("|---|---|---:|---:|---:|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for headers in a.headers.split(","):
            runs = [one(headers, a.status, seed, work) for seed in range(1, a.runs + 1)]
            g = [r[0] for r in runs]
            f = [r[1] for r in runs]
            print(f"| {headers} | {a.status} | {a.runs} | {statistics.median(g):.3f} / {min(g):.3f} | "
                  f"{statistics.median(f):.3f} / {max(f):.3f} | {','.join(str(r[2]) for r in runs)} | "
                  f"{','.join(str(r[3]) for r in runs)} | {runs[0][4]}-{runs[-1][4]} |", flush=True)


if __name__ == "__main__":
    main()
