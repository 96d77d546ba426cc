#!/bin/bash
# The limiter against a third independent server (see README.md): the unmodified `batch` example against
# each row, 3 runs a row, then a Markdown table of median and worst. From the workspace root:
#   bash examples/independent/third/check.sh                         (~15 min)
#   bash examples/independent/third/check.sh --only GEN-hdr,DYN-hdr --runs 5
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cargo build -q --release -p examples --example batch --manifest-path "$here/../../../Cargo.toml"
if [ $# -eq 0 ]; then set -- --runs 3; fi
python3 "$here/run.py" "$@"
