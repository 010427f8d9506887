#!/bin/bash
# Latency of a real lab: `basalt server` and one `basalt worker` running
# QEMU (TCG) jobs. For each of RUNS submissions of the example job, from
# the client's side (bench/server/latency.py): submit → Running, and the
# job's end (the dt of its last log record, written on the worker) →
# Finished as the server reports it. The anchor (Debian's lava-server with
# events working) measured 1 s (1-4 s) submit → start, 17-38 s without
# events, and the end recorded up to 20 s late (the worker's ping).
#
#   bench/server/latency.sh [RUNS]                              SQLite
#   scripts/with-postgres.sh bench/server/latency.sh [RUNS]     PostgreSQL
#
# Needs the fixtures (make fixtures; FIXTURES names another folder, e.g.
# a main checkout's build/fixtures/x86_64), served here on a free port.
# JOB (default examples/qemu/job.yaml; its http://127.0.0.1:8000/ is
# rewritten to the fixtures' server). POLL (default 0.01 s) is the
# client's polling interval, included in both figures. Results:
# build/bench/server/latency-<time>/runs.jsonl, summary.txt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
JOB=${JOB:-$ROOT/examples/qemu/job.yaml}
FIXTURES=${FIXTURES:-$ROOT/build/fixtures/x86_64}
POLL=${POLL:-0.01}
[ -f "$FIXTURES/vmlinuz" ] || { echo "no fixtures in $FIXTURES (make fixtures, or FIXTURES=DIR)" >&2; exit 1; }
bench_init latency

port=$(free_port)
$PY -m http.server "$port" --bind 127.0.0.1 --directory "$FIXTURES" >"$OUT/fixtures.log" 2>&1 &
PIDS+=("$!")
sed "s#http://127.0.0.1:8000/#http://127.0.0.1:$port/#g" "$JOB" >"$OUT/job.yaml"

new_lab "$OUT/lab"
add_worker w1
manage devices add qemu01 --device-type qemu --worker w1 --dictionary "$ROOT/examples/qemu/device.jinja2" >/dev/null
# Good: no health check before the first job (the type has none anyway).
manage devices update qemu01 --health Good >/dev/null
start_server
start_worker w1
db=sqlite
[ -n "${BASALT_POSTGRES_DSN:-}" ] && db=postgresql

for run in $(seq "$RUNS"); do
  $PY "$ROOT/bench/server/latency.py" "$RPC" "$OUT/job.yaml" "$POLL" |
    $PY -c 'import json, sys; r = json.load(sys.stdin); r.update(run=int(sys.argv[1]), db=sys.argv[2]); print(json.dumps(r))' "$run" "$db" |
    tee -a "$OUT/runs.jsonl"
done

{
  echo "basalt server + 1 basalt worker, $db, $RUNS run(s) of $(basename "$JOB"); client polls every $POLL s; $(nproc) cores, load at end $(loadavg)"
  s2r=$(jq -r '.submit_to_running_s // empty' "$OUT/runs.jsonl" | median || echo -)
  e2r=$(jq -r '.end_to_recorded_s // empty' "$OUT/runs.jsonl" | median || echo -)
  printf '%-24s %-10s %-16s %-26s %s\n' "" median "min-max" "anchor (lava-server)" ratio
  printf '%-24s %-10s %-16s %-26s %s\n' "submit -> Running (s)" "$s2r" \
    "$(jq -r '.submit_to_running_s // empty' "$OUT/runs.jsonl" | sort -g | sed -n '1p;$p' | paste -sd-)" "1 (1-4; 17-38 no events)" \
    "$(awk -v a="$s2r" 'BEGIN {if (a > 0) printf "x%.0f", 1 / a}')"
  printf '%-24s %-10s %-16s %-26s %s\n' "end -> recorded (s)" "$e2r" \
    "$(jq -r '.end_to_recorded_s // empty' "$OUT/runs.jsonl" | sort -g | sed -n '1p;$p' | paste -sd-)" "up to 20" \
    "$(awk -v a="$e2r" 'BEGIN {if (a > 0) printf "x%.0f (against 20 s)", 20 / a}')"
  echo "states: $(jq -r '"\(.state)/\(.health)"' "$OUT/runs.jsonl" | sort | uniq -c | paste -sd' ')"
} | tee "$OUT/summary.txt"
