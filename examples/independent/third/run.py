#!/usr/bin/env python3
"""Harness: for each row start a fresh server.py, run the unmodified `batch` client (one process of 300
lines at --concurrency 64, or a fleet of 4 x 150 lines at --concurrency 16), read GET /v1/stats, count
lost lines, append a record to results.jsonl and print a Markdown table.
usage: run.py [--runs N] [--only ROW,ROW] [--table-only] [--fresh] [--list]"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BATCH = os.environ.get("BATCH", os.path.join(ROOT, "target", "release", "examples", "batch"))
WORK = os.environ.get("WORK") or tempfile.mkdtemp(prefix="third-")
RES = os.environ.get("RESULTS") or os.path.join(WORK, "results.jsonl")

TB = "--limit tb --rate 40 --burst 5"
DYN = "--limit dyn --rate 20 --dyn-max 80"
TOK = "--limit tokens --tpm 720000 --gen tokens"
WIN = "--limit fixed --n 200 --window 10 --hdr openai-min --reset-fmt s-ceil --retry-after const:1"
# name: (server flags, input kind, fleet) ; fleet None = 1 proc x 300 lines, c=64 ; else (procs, lines, conc)
C = [
    ("GEN-hdr",      TB + " --hdr together", "plain", None),
    ("GEN-none",     TB + " --hdr none", "plain", None),
    ("DYN-hdr",      DYN + " --hdr together", "plain", None),
    ("DYN-none",     DYN + " --hdr none", "plain", None),
    ("OVL-503",      TB + " --hdr together --overload 0.5", "plain", None),
    ("OVL-mix",      TB + " --hdr together --overload 0.4 --ovl-kinds 503:2,502:1,504:1", "plain", None),
    ("TOK-hdr",      TOK + " --hdr together", "tok", None),
    ("HDR-okonly-ms", TB + " --hdr together --hdr-on ok --reset-fmt ms", "plain", None),
    ("HDR-refonly-floor", TB + " --hdr together --hdr-on refusal --reset-fmt s-floor", "plain", None),
    ("RA-2s",        TB + " --hdr none --retry-after const:2", "plain", None),
    ("WIN10-min",    WIN + " --minute-view bucket", "plain", None),
    ("WIN10-minfixed", WIN + " --minute-view fixed", "plain", None),
    ("SLOW429",      TB + " --hdr none --refuse-delay 0.2,0.5", "plain", None),
    ("CF-penalty",   "--limit sliding --n 40 --window 1 --penalty 3 --hdr none --body cloudflare --retry-after secs", "plain", None),
    ("ENVOY",        "--limit envoy --n 40 --window 1 --hdr envoy --body envoy", "plain", None),
    # fleets: 600 lines, so higher limits keep the ideal span near 12-15 s
    ("F-GEN-hdr",    "--limit tb --rate 50 --burst 5 --hdr together", "plain", (4, 150, 16)),
    ("F-DYN-hdr",    "--limit dyn --rate 30 --dyn-max 100 --hdr together", "plain", (4, 150, 16)),
    ("F-TOK-hdr",    "--limit tokens --tpm 1080000 --gen tokens --hdr together", "tok", (4, 150, 16)),
]


def load():
    return open("/proc/loadavg").read().split()[0]


def binid():
    import hashlib
    return hashlib.sha256(open(BATCH, "rb").read()).hexdigest()[:12]


def one(name, flags, kind, fleet, seed, timeout=45):
    os.makedirs(WORK, exist_ok=True)
    procs, lines, conc = fleet or (1, 300, 64)
    srv = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "--seed", str(seed),
                            "--client-conc", str(procs * conc)] + flags.split(), stdout=subprocess.PIPE, text=True)
    ins, outs, ps = [], [], []
    try:
        port = int(srv.stdout.readline().split()[1])
        load0 = load()
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
            ps.append(subprocess.Popen([BATCH, "--input", ins[p], "--output", outs[p], "--concurrency", str(conc), "--quiet"],
                                       env=env, stdout=subprocess.DEVNULL, stderr=open(outs[p] + ".stderr", "w")))
        rcs = []
        for p in ps:
            try:
                rcs.append(p.wait(timeout=max(1, timeout - (time.time() - t0))))
            except subprocess.TimeoutExpired:
                p.kill(); p.wait(); rcs.append("timeout")
        wall = time.time() - t0
        st = json.load(urllib.request.urlopen("http://127.0.0.1:%d/v1/stats" % port, timeout=30))
    finally:
        srv.kill(); srv.wait()
    lost = 0
    for p in range(procs):
        last = {}
        if os.path.exists(outs[p]):
            for ln in open(outs[p]):
                try:
                    o = json.loads(ln)
                except Exception:
                    continue
                last[o.get("custom_id")] = "response" if "response" in o else "error"
        lost += sum(1 for i in range(lines) if last.get("p%dr%d" % (p, i)) != "response")
    n = procs * lines
    r = dict(name=name, flags=flags, fleet=fleet, seed=seed, rc=rcs, wall=round(wall, 2), lost=lost, n=n,
             goodput=st["goodput"], r429=st["r429"] / n, r503=st["r503"] / n,
             r5xx_other=(st.get("r502", 0) + st.get("r504", 0)) / n, requests=st["requests"], ok=st["ok"],
             span=st["span"], ideal=st["ideal"], ideal_rate=st.get("ideal_rate"), ideal_little=st.get("ideal_little"),
             hangups=st["other"], models_calls=st["models_calls"], max_inflight=st["max_inflight"],
             per_s=st.get("per_s"), dyn_limit_per_s=st.get("dyn_limit_per_s"), penalty_blocks=st.get("penalty_blocks"),
             load_before=load0, load_after=load(), binary=binid())
    with open(RES, "a") as f:
        f.write(json.dumps(r) + "\n")
    return r


def fmt(x, d=3):
    return "-" if x is None else ("%.*f" % (d, x))


def table(names=None):
    rows = {}
    for ln in open(RES):
        r = json.loads(ln)
        rows.setdefault(r["name"], []).append(r)
    print("| row | server flags | runs | goodput med / worst | 429/req med / worst | 503/req med / worst "
          "| 502+504/req med / worst | lost per run | exit codes | wall s (med) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, flags, kind, fleet in C:
        if names and name not in names:
            continue
        rs = rows.get(name)
        if not rs:
            continue
        g = [r["goodput"] or 0 for r in rs]; a = [r["r429"] for r in rs]; b = [r["r503"] for r in rs]
        o = [r.get("r5xx_other", 0) for r in rs]
        fl = flags + (" [fleet %dx%d c=%d]" % tuple(fleet) if fleet else "") + ("" if kind == "plain" else " [input %s]" % kind)
        print("| %s | `%s` | %d | %s / %s | %s / %s | %s / %s | %s / %s | %s | %s | %.1f |" % (
            name, fl, len(rs), fmt(statistics.median(g)), fmt(min(g)), fmt(statistics.median(a)), fmt(max(a)),
            fmt(statistics.median(b)), fmt(max(b)), fmt(statistics.median(o)), fmt(max(o)),
            ",".join(str(r["lost"]) for r in rs), ",".join("/".join(str(c) for c in r["rc"]) for r in rs),
            statistics.median(r["wall"] for r in rs)))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--fresh", action="store_true", help="delete results.jsonl first")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        for c in C:
            print(c[0], c[1], c[2], c[3] or "")
        sys.exit(0)
    names = set(x for x in a.only.split(",") if x)
    unknown = names - {c[0] for c in C}
    if unknown:
        sys.exit("unknown rows: %s" % ", ".join(sorted(unknown)))
    if a.fresh and os.path.exists(RES):
        os.remove(RES)
    print("results: %s ; batch sha256 %s" % (RES, binid()), file=sys.stderr)
    if not a.table_only:
        for name, flags, kind, fleet in C:
            if names and name not in names:
                continue
            for i in range(a.runs):
                r = one(name, flags, kind, fleet, seed=1 + i)
                print("%-18s run%d goodput=%s 429/req=%.3f 503/req=%.3f 5xx/req=%.3f lost=%d rc=%s span=%s ideal=%s "
                      "(rate %s, little %s) wall=%.1f hangups=%d load=%s" % (
                          name, i + 1, fmt(r["goodput"]), r["r429"], r["r503"], r["r5xx_other"], r["lost"], r["rc"],
                          fmt(r["span"], 2), fmt(r["ideal"], 2), fmt(r["ideal_rate"], 2), fmt(r["ideal_little"], 2),
                          r["wall"], r["hangups"], r["load_after"]), file=sys.stderr, flush=True)
    table(names or None)
