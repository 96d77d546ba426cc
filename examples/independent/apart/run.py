#!/usr/bin/env python3
"""Harness: for each behaviour start server.py, run the unmodified batch client, read /v1/stats.
usage: run.py [--runs N] [--only NAME,NAME] [--table-only] ; results appended to results.jsonl"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
# The unmodified `batch` example of this workspace (built by `check.sh`).
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
BATCH = os.environ.get("BATCH", os.path.join(ROOT, "target", "release", "examples", "batch"))
WORK = os.environ.get("WORK") or tempfile.mkdtemp(prefix="apart-")
RES = os.environ.get("RESULTS") or os.path.join(WORK, "results.jsonl")

# name: (server flags, input kind, fleet) ; fleet = None (1 proc x 300, c=64) or (procs, lines, conc)
C = [
    ("S1-gh",    "--mode sliding --limits 50/1 --hdr github", "plain", None),
    ("S1-none",  "--mode sliding --limits 50/1", "plain", None),
    ("S2-gh",    "--mode sliding --limits 50/1,200/10 --hdr github", "plain", None),
    ("S2-none",  "--mode sliding --limits 50/1,200/10", "plain", None),
    ("C429-ra",  "--mode conc --k 8 --status 429 --retry-after one", "plain", None),
    ("C429",     "--mode conc --k 8 --status 429", "plain", None),
    ("C503-ra",  "--mode conc --k 8 --status 503 --retry-after one", "plain", None),
    ("C503",     "--mode conc --k 8 --status 503", "plain", None),
    ("NG503",    "--mode nginx --rate 50 --burst 5 --status 503 --body html", "plain", None),
    ("TB503-hdr", "--mode tb --rate 50 --burst 5 --hdr simple --status 503", "plain", None),
    ("NG429",    "--mode nginx --rate 50 --burst 5 --status 429 --body html", "plain", None),
    ("OA-hdr",   "--mode openai --rpm 3000 --rate 50 --hdr openai", "plain", None),
    ("OA-none",  "--mode openai --rpm 3000 --rate 50", "plain", None),
    ("WALK-hdr", "--mode walk --rate 50 --hdr simple", "plain", None),
    ("WALK-none", "--mode walk --rate 50", "plain", None),
    ("TB-hdr",   "--mode tb --rate 50 --burst 5 --hdr simple", "plain", None),
    ("TB-none",  "--mode tb --rate 50 --burst 5", "plain", None),
    ("BODYHINT", "--mode tb --rate 50 --burst 5 --hint-body", "plain", None),
    ("RA-secs",  "--mode tb --rate 50 --burst 5 --retry-after secs", "plain", None),
    ("RA-date",  "--mode tb --rate 50 --burst 5 --retry-after date", "plain", None),
    ("TPM-hdr",  "--mode tpm --tpm 60000 --hdr openai", "tpm", None),
    ("TPM-none", "--mode tpm --tpm 60000", "tpm", None),
    ("PM-hdr",   "--mode permodel --models m-fast=60,m-slow=20 --burst 5 --hdr simple", "permodel", None),
    ("PM-none",  "--mode permodel --models m-fast=60,m-slow=20 --burst 5", "permodel", None),
    ("LIE-x2",   "--mode tb --rate 50 --burst 5 --hdr simple --advertise 2.0", "plain", None),
    ("S1-simple", "--mode sliding --limits 50/1 --hdr simple", "plain", None),
    ("TB-gh",    "--mode tb --rate 50 --burst 5 --hdr github", "plain", None),
    ("F-S1-gh",   "--mode sliding --limits 50/1 --hdr github", "plain", (4, 150, 16)),
    ("F-S1-none", "--mode sliding --limits 50/1", "plain", (4, 150, 16)),
    ("F-TB-hdr",  "--mode tb --rate 50 --burst 5 --hdr simple", "plain", (4, 150, 16)),
    ("F-TB-none", "--mode tb --rate 50 --burst 5", "plain", (4, 150, 16)),
    ("F-C429",    "--mode conc --k 16 --status 429", "plain", (4, 150, 16)),
    ("NG503-oa1000", "--mode nginx --rate 50 --burst 5 --status 503 --body html", "plain", None, "--outage-after 1000"),
    ("C503-oa1000", "--mode conc --k 8 --status 503", "plain", None, "--outage-after 1000"),
    ("F-WALK-hdr", "--mode walk --rate 50 --hdr simple", "plain", (4, 150, 16)),
    ("F-OA-hdr",  "--mode openai --rpm 3000 --rate 50 --hdr openai", "plain", (4, 150, 16)),
    ("F2-OA-hdr", "--mode openai --rpm 3000 --rate 50 --hdr openai", "plain", (2, 150, 16)),
]


def resume(name, flags, max_inv=10):
    """Run the same command again (as the client's help says) until exit code != 1; count invocations."""
    os.makedirs(WORK, exist_ok=True)
    srv = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py")] + flags.split(), stdout=subprocess.PIPE, text=True)
    port = int(srv.stdout.readline().split()[1])
    inp = os.path.join(WORK, "resume-%s.in.jsonl" % name); out = os.path.join(WORK, "resume-%s.out.jsonl" % name)
    subprocess.run([sys.executable, os.path.join(HERE, "mkinput.py"), "plain", "300", inp, "p0r"], check=True)
    if os.path.exists(out):
        os.remove(out)
    env = dict(os.environ, TOGETHER_API_KEY="k", TOGETHER_BASE_URL="http://127.0.0.1:%d/v1" % port)
    rcs = []; t0 = time.time()
    try:
        for i in range(max_inv):
            rc = subprocess.run([BATCH, "--input", inp, "--output", out, "--concurrency", "64", "--quiet"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            rcs.append(rc)
            if rc != 1:
                break
        st = json.load(urllib.request.urlopen("http://127.0.0.1:%d/v1/stats" % port, timeout=5))
    finally:
        srv.kill(); srv.wait()
    last = {}
    for ln in open(out):
        o = json.loads(ln); last[o["custom_id"]] = "response" if "response" in o else "error"
    lost = sum(1 for i in range(300) if last.get("p0r%d" % i) != "response")
    print("| resume %s | `%s` | invocations %d, exit codes %s | lost after last: %d | ok %d, 503s %d (%.2f/line), 429s %d | %.1f s wall |" % (
        name, flags, len(rcs), rcs, lost, st["ok"], st["r503"], st["r503"] / 300, st["r429"], time.time() - t0))


def binid():
    import hashlib
    st = os.stat(BATCH)
    return hashlib.sha256(open(BATCH, "rb").read()).hexdigest()[:12] + "@" + time.strftime("%H:%M:%S", time.gmtime(st.st_mtime))


def load():
    return open("/proc/loadavg").read().split()[0]


def one(name, flags, kind, fleet, seed, cargs="", timeout=120):
    os.makedirs(WORK, exist_ok=True)
    procs, lines, conc = fleet or (1, 300, 64)
    srv = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "--seed", str(seed)] + flags.split(),
                           stdout=subprocess.PIPE, text=True)
    port = int(srv.stdout.readline().split()[1])
    load0 = load(); bin0 = binid()
    ins, outs, ps = [], [], []
    try:
        for p in range(procs):
            inp = os.path.join(WORK, "%s.%d.in.jsonl" % (name, p)); out = os.path.join(WORK, "%s.%d.out.jsonl" % (name, p))
            subprocess.run([sys.executable, os.path.join(HERE, "mkinput.py"), kind, str(lines), inp, "p%dr" % p], check=True)
            if os.path.exists(out):
                os.remove(out)
            ins.append(inp); outs.append(out)
        env = dict(os.environ, TOGETHER_API_KEY="k", TOGETHER_BASE_URL="http://127.0.0.1:%d/v1" % port)
        env.pop("TOGETHER_RATE_LIMIT_REDIS", None)
        t0 = time.time()
        for p in range(procs):
            ps.append(subprocess.Popen([BATCH, "--input", ins[p], "--output", outs[p], "--concurrency", str(conc), "--quiet"] + cargs.split(),
                                       env=env, stdout=subprocess.DEVNULL, stderr=open(outs[p] + ".stderr", "w")))
        rcs = []
        for p in ps:
            try:
                rcs.append(p.wait(timeout=max(1, timeout - (time.time() - t0))))
            except subprocess.TimeoutExpired:
                p.kill(); p.wait(); rcs.append("timeout")
        wall = time.time() - t0
        st = json.load(urllib.request.urlopen("http://127.0.0.1:%d/v1/stats" % port, timeout=5))
    finally:
        srv.kill(); srv.wait()
    lost = 0; answered = 0; extra = 0
    for p in range(procs):
        last = {}
        if os.path.exists(outs[p]):
            for ln in open(outs[p]):
                try:
                    o = json.loads(ln)
                except Exception:
                    continue
                last[o.get("custom_id")] = "response" if "response" in o else "error"
        for i in range(lines):
            s = last.get("p%dr%d" % (p, i))
            if s == "response":
                answered += 1
            else:
                lost += 1
    n = procs * lines
    r = dict(name=name, flags=flags, fleet=fleet, seed=seed, rc=rcs, wall=round(wall, 2), lost=lost, answered=answered,
             n=n, goodput=st["goodput"], r429=st["r429"] / n, r503=st["r503"] / n, requests=st["requests"], ok=st["ok"],
             span=st["span"], ideal=st["ideal"], models_calls=st["models_calls"], max_inflight=st["max_inflight"],
             load_before=load0, load_after=load(), per_model=st.get("per_model_ok"), binary=bin0,
             binary_changed=(binid() != bin0))
    with open(RES, "a") as f:
        f.write(json.dumps(r) + "\n")
    return r


def fmt(x, d=3):
    return "-" if x is None else ("%.*f" % (d, x))


def table(names=None):
    rows = {}
    for ln in open(RES):
        r = json.loads(ln)
        rows.setdefault((r["name"], r.get("binary", "?")), []).append(r)
    bins = sorted(set(b for _, b in rows), key=lambda b: b.split("@")[-1])
    print("binaries (sha256 prefix @ mtime UTC): %s" % ", ".join(bins))
    print("| behaviour | server flags | binary | runs | goodput med / worst | 429/req med / worst | 503/req med / worst | lost per run | exit codes | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, flags, kind, fleet, *ca in C:
        if ca: flags = flags + " ; client: " + ca[0]
        if names and name not in names:
            continue
        for b in bins:
            rs = rows.get((name, b))
            if not rs:
                continue
            g = [r["goodput"] or 0 for r in rs]; a = [r["r429"] for r in rs]; bb = [r["r503"] for r in rs]
            fl = flags + (" [fleet %dx%d c=%d]" % tuple(fleet) if fleet else "") + ("" if kind == "plain" else " [input %s]" % kind)
            print("| %s | `%s` | %s | %d | %s / %s | %s / %s | %s / %s | %s | %s | %s |" % (
                name, fl, b.split("@")[-1], len(rs), fmt(statistics.median(g)), fmt(min(g)), fmt(statistics.median(a)), fmt(max(a)),
                fmt(statistics.median(bb)), fmt(max(bb)), ",".join(str(r["lost"]) for r in rs),
                ",".join("/".join(str(c) for c in r["rc"]) for r in rs),
                "%s-%s" % (min(r["load_before"] for r in rs), max(r["load_after"] for r in rs))))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--resume", action="store_true", help="only the re-run-until-done test of the 503 behaviours")
    ap.add_argument("--fresh", action="store_true", help="delete results.jsonl first")
    a = ap.parse_args()
    names = set(x for x in a.only.split(",") if x)
    if a.fresh and os.path.exists(RES):
        os.remove(RES)
    if a.resume:
        for nm in ("NG503", "C503"):
            resume(nm, dict((c[0], c[1]) for c in C)[nm])
        sys.exit(0)
    if not a.table_only:
        for name, flags, kind, fleet, *ca in C:
            if names and name not in names:
                continue
            for i in range(a.runs):
                r = one(name, flags, kind, fleet, seed=1 + i, cargs=ca[0] if ca else "")
                print("%-10s run%d goodput=%s 429/req=%.3f 503/req=%.3f lost=%d rc=%s span=%s ideal=%s load=%s" % (
                    name, i + 1, fmt(r["goodput"]), r["r429"], r["r503"], r["lost"], r["rc"], fmt(r["span"], 2),
                    fmt(r["ideal"], 2), r["load_after"]), file=sys.stderr, flush=True)
    table(names or None)
