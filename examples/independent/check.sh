#!/bin/bash
# Real-clock check of the limiter on `server.py` (a server written apart from the simulator):
# the `batch` example, one process (300 lines, --concurrency 64), two on a per-minute budget
# and four (150 lines each, --concurrency 16; with REDIS_URL set, the four also share the limit
# on that Redis). Prints one line per run: goodput (the ideal over the server's span from
# first to last success), 429s per request, lines lost (not answered, or answered with an
# error) and fairness (the worst |share x N - 1| of the processes' rates; 0 for one process);
# then a Markdown table of the runs' medians and worst, as examples/BENCHMARKS.md shows it.
#   RUNS=3 bash examples/independent/check.sh        (from the workspace root; ~12 min at 3)
#   ONLY='window' RUNS=5 bash examples/independent/check.sh    (only the rows whose label matches)
#   BATCH=/path/to/batch bash examples/independent/check.sh    (another build, to compare two)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${RUNS:-3}
only=${ONLY:-}
if [ -n "${BATCH:-}" ]; then
  batch=$BATCH
else
  cargo build -q --release -p examples --example batch --manifest-path "$root/Cargo.toml"
  batch="$root/target/release/examples/batch"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lines() { # lines FILE COUNT MAX_TOKENS
  python3 -c "import json,sys
for i in range(int(sys.argv[2])):
    print(json.dumps({'custom_id': f'r{i}', 'body': {'model': 'm', 'messages': [{'role': 'user', 'content': 'hi'}], 'max_tokens': int(sys.argv[3])}}))" x "$2" "$3" > "$1"
}
lines "$work/300.jsonl" 300 5
lines "$work/300t.jsonl" 300 15
lines "$work/150.jsonl" 150 5
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# run LABEL IDEAL PROCESSES INPUT CONCURRENCY REDIS(-) SERVER_ARGS...
run() {
  local label=$1 ideal=$2 n=$3 input=$4 conc=$5 redis=$6; shift 6
  if [ -n "$only" ] && ! [[ $label =~ $only ]]; then return; fi
  local port; port=$(free_port)
  python3 "$here/server.py" "$port" "$@" & local server=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v1/stats" >/dev/null && break; sleep 0.1; done
  local shared=()
  # Nothing to clear on the Redis: the fleet's keys name the host and its port, new each run.
  if [ "$redis" != "-" ]; then shared=(--redis-url "$redis"); fi
  local pids=()
  for i in $(seq "$n"); do
    # Each process's own wall time, for its share of the fleet's rate.
    ( start=$(date +%s.%N)
      TOGETHER_API_KEY=k TOGETHER_BASE_URL="http://127.0.0.1:$port/v1" "$batch" --input "$input" \
        --output "$work/out-$i.jsonl" --concurrency "$conc" "${shared[@]}" >"$work/log-$i.txt" 2>&1 || true
      echo "$start $(date +%s.%N)" > "$work/wall-$i.txt" ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  local stats; stats=$(curl -s "http://127.0.0.1:$port/v1/stats")
  kill "$server"; wait "$server" 2>/dev/null || true
  local answered; answered=$(cat "$work"/out-*.jsonl | grep -c '"response"' || true)
  local expected; expected=$(( n * $(wc -l < "$input") ))
  # Fairness: each process's rate (its lines over its own wall time) as a share of their sum,
  # the worst |share x N - 1| (0: each exactly 1/N), as the fleet benchmark reports it.
  python3 -c "import glob,json,sys
s=json.loads(sys.argv[1]); ideal=float(sys.argv[2]); lost=int(sys.argv[4])-int(sys.argv[3]); lines=int(sys.argv[6])
walls=[float(b)-float(a) for a,b in (open(f).read().split() for f in glob.glob(sys.argv[7]+'/wall-*.txt'))]
rates=[lines/w for w in walls]; fair=max(abs(r/sum(rates)*len(rates)-1) for r in rates)
print(f\"{sys.argv[5]:<34} goodput {ideal/s['span']:.3f}  429s/req {s['r429']/(s['ok']+s['r429']):.3f}  lost {lost}  fair {fair:.2f}\")" \
    "$stats" "$ideal" "$answered" "$expected" "$label" "$(wc -l < "$input")" "$work" | tee -a "$work/runs.txt"
  rm -f "$work"/out-*.jsonl "$work"/wall-*.txt
}

for r in $(seq "$runs"); do
  for d in rate bucket none openai anthropic ietf; do run "one $d" 5.9 1 "$work/300.jsonl" 64 - "$d"; done
  for d in rate bucket none; do run "one $d steps 50-20-80" 6.7 1 "$work/300.jsonl" 64 - "$d" --steps; done
  for d in rate bucket none; do run "one $d tokens 500/s" 11.0 1 "$work/300t.jsonl" 64 - "$d" --tokens 500; done
  # 50 a second per fixed one-second window: the last 50 go when the fifth second opens.
  for d in bucket none; do run "one $d window" 5.0 1 "$work/300.jsonl" 64 - "$d" --window; done
  # Four processes on that window, 150 lines each: the last 50 go when the twelfth opens.
  run "four bucket window" 11.0 4 "$work/150.jsonl" 16 - bucket --window
  # Two processes on one per-minute budget, 150 lines each: 300 in all, as the lone client's.
  for d in openai anthropic; do run "two $d" 5.9 2 "$work/150.jsonl" 16 - "$d"; done
  for d in rate bucket none openai anthropic; do
    run "four $d" 11.9 4 "$work/150.jsonl" 16 - "$d"
    if [ -n "${REDIS_URL:-}" ]; then run "four $d redis" 11.9 4 "$work/150.jsonl" 16 "$REDIS_URL" "$d"; fi
  done
done
echo
python3 - "$work/runs.txt" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(.+?)\s+goodput ([\d.]+)\s+429s/req ([\d.]+)\s+lost (\d+)\s+fair ([\d.]+)", line)
    if m:
        rows.setdefault(m[1].strip(), []).append((float(m[2]), float(m[3]), int(m[4]), float(m[5])))
print("| run | runs | goodput median | goodput worst | 429s/req median | 429s/req worst | lost | fairness worst |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for label, runs in rows.items():
    goodput = [r[0] for r in runs]
    per_request = [r[1] for r in runs]
    fair = f"{max(r[3] for r in runs):.2f}" if label.startswith(("two", "four")) else "-"
    print(f"| {label} | {len(runs)} | {statistics.median(goodput):.3f} | {min(goodput):.3f} | "
          f"{statistics.median(per_request):.3f} | {max(per_request):.3f} | {sum(r[2] for r in runs)} | {fair} |")
PY
