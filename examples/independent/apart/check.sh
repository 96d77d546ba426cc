#!/bin/bash
# The limiter on a rate-limited server written by a helper that never read this project's code
# (see README.md): the unmodified `batch` example against each behaviour, 3 runs a row, then a
# Markdown table of median and worst. From the workspace root:
#   bash examples/independent/apart/check.sh                       (~30 min)
#   bash examples/independent/apart/check.sh --only S1-gh,NG503 --runs 5
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cargo build -q --release -p examples --example batch --manifest-path "$here/../../../Cargo.toml"
if [ $# -eq 0 ]; then set -- --runs 3; fi
python3 "$here/run.py" "$@"
