"""Runs the unmodified `batch` example against `server.py` (an LLM API behind a dynamic rate
limit: a token bucket whose rate R rises under sustained demand and halves at random load
spikes): 300 lines at --concurrency 64 per run, real clock. Prints one Markdown row per header
setting: goodput median / worst (the server's ideal over its span), 429s per request median /
worst, lines lost per run, exit codes, machine load. One line per run goes to stderr; with
RESULTS=file each run is appended to it as a JSON line.

  python3 examples/independent/dynamic/run.py [--runs 3] [--headers together,none] [--retry-after secs|none]
  BATCH=/path/to/batch python3 examples/independent/dynamic/run.py   (another build)
"""
import argparse, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from harness import batch_run, table  # noqa: E402

N = 300


def one(headers, retry_after, seed, work):
    stats, lost, rc, wall, load = batch_run(
        os.path.join(HERE, "server.py"),
        ["--seed", str(seed), "--headers", headers, "--retry-after", retry_after], work, lines=N)
    span = (stats["last"] - stats["first"]) if stats["first"] is not None else 0.0
    goodput = stats["ideal"] / span if span > 0 else 0.0
    per_req = stats["refused"] / N
    nchanges = len(stats["changes"]) - 1
    rec = {"server": "dynamic", "headers": headers, "retry_after": retry_after, "seed": seed,
           "goodput": round(goodput, 4), "refused_per_request": round(per_req, 4), "lost": lost,
           "rc": rc, "load": load, "wall": round(wall, 3), "span": round(span, 3),
           "ideal": stats["ideal"], "admitted": stats["admitted"], "refused": stats["refused"],
           "r_changes": nchanges, "changes": stats["changes"]}
    print(f"headers={headers} retry-after={retry_after} seed={seed} goodput={goodput:.3f} "
          f"429s/req={per_req:.3f} lost={lost} rc={rc} span={span:.2f}s ideal={stats['ideal']:.2f}s "
          f"admitted={stats['admitted']} refused={stats['refused']} r_changes={nchanges} "
          f"final_R={stats['changes'][-1][1]:.1f} wall={wall:.2f}s load={load}",
          file=sys.stderr, flush=True)
    if os.environ.get("RESULTS"):
        with open(os.environ["RESULTS"], "a") as f:
            f.write(json.dumps(rec) + "\n")
    return goodput, per_req, lost, rc, load


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--headers", default="together,none")
    p.add_argument("--retry-after", default="secs", choices=["secs", "none"])
    a = p.parse_args()
    table(["headers", "retry-after"], [[h, a.retry_after] for h in a.headers.split(",")],
          a.runs, lambda setting, seed, work: one(*setting, seed, work))


if __name__ == "__main__":
    main()
