"""What the runners of the servers written apart (`capacity/run.py`, `dynamic/run.py`) share:
start a server on a free port, run the unmodified `batch` example against it once, count the
lines it lost, and print a Markdown row of medians and worsts over runs.
"""
import json, os, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BATCH = os.environ.get("BATCH", os.path.join(ROOT, "target", "release", "examples", "batch"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def batch_run(server_py, server_args, work, lines=300, concurrency=64, timeout=180):
    """Starts `server_py PORT *server_args`, waits for its first line, sends `lines` chat
    requests through `batch --concurrency`, reads the server's /v1/stats, stops the server.
    Returns (stats, lines lost, exit code or "timeout", wall seconds, load average)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, server_py, str(port), *server_args],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    inp, out = os.path.join(work, "in.jsonl"), os.path.join(work, "out.jsonl")
    try:
        server.stdout.readline()
        with open(inp, "w") as f:
            for i in range(lines):
                body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
                f.write(json.dumps({"custom_id": f"r{i}", "body": body}) + "\n")
        if os.path.exists(out):
            os.remove(out)
        env = dict(os.environ, TOGETHER_API_KEY="k", TOGETHER_BASE_URL=f"http://127.0.0.1:{port}/v1")
        env.pop("TOGETHER_RATE_LIMIT_REDIS", None)
        start = time.monotonic()
        try:
            rc = subprocess.run([BATCH, "--input", inp, "--output", out, "--concurrency",
                                 str(concurrency), "--quiet"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        wall = time.monotonic() - start
        stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/stats", timeout=5))
    finally:
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
    lost = sum(1 for i in range(lines) if f"r{i}" not in answered)
    load = open("/proc/loadavg").read().split()[0]
    return stats, lost, rc, wall, load


def row(cells, runs):
    """One Markdown row: `cells`, then over `runs` of (goodput, refusals per request, lost,
    exit code, load): goodput median / worst, refusals median / worst, lost and exit codes per
    run, the load at the first and last run."""
    g = [r[0] for r in runs]
    f = [r[1] for r in runs]
    print(f"| {' | '.join(str(c) for c in cells)} | {statistics.median(g):.3f} / {min(g):.3f} | "
          f"{statistics.median(f):.3f} / {max(f):.3f} | {','.join(str(r[2]) for r in runs)} | "
          f"{','.join(str(r[3]) for r in runs)} | {runs[0][4]}-{runs[-1][4]} |", flush=True)


def table(columns, settings, runs, one):
    """Prints a Markdown table: `columns` name the setting's cells (then goodput, refusals, lost,
    exit codes, load), one row per setting of `settings` (each a list of those cells), each row
    over `one(setting, seed, work)` for seeds 1..`runs`."""
    print(f"| {' | '.join(columns)} | runs | goodput median / worst | refusals per request median / "
          "worst | lost per run | exit codes | load |")
    print("|" + "---|" * len(columns) + "---:|---:|---:|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory() as work:
        for setting in settings:
            row([*setting, runs], [one(setting, seed, work) for seed in range(1, runs + 1)])
