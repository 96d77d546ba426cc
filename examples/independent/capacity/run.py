"""Runs the unmodified `batch` example against `server.py` (a server out of capacity that
refuses with 503s, its rate-limit headers reporting plenty left, as Together's do below an
account's limits): 300 lines at --concurrency 64 per run, real clock. Prints one Markdown row
per header setting: goodput median / worst (the server's ideal over its span), refusals per
request median / worst, lines lost per run, exit codes, machine load.

  python3 examples/independent/capacity/run.py [--runs 3] [--status 503] [--headers together,none]
  BATCH=/path/to/batch python3 examples/independent/capacity/run.py   (another build)
"""
import argparse, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from harness import batch_run, table  # noqa: E402


def one(headers, status, seed, work):
    stats, lost, rc, _, load = batch_run(
        os.path.join(HERE, "server.py"),
        ["--seed", str(seed), "--headers", headers, "--status", status], work)
    return stats["goodput"], stats["refused"] / 300, lost, rc, load


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--status", default="503")
    p.add_argument("--headers", default="together,none")
    a = p.parse_args()
    table(["headers", "status"], [[h, a.status] for h in a.headers.split(",")], a.runs,
          lambda setting, seed, work: one(*setting, seed, work))


if __name__ == "__main__":
    main()
