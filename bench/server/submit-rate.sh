#!/bin/bash
# Submissions per second over XML-RPC against a real `basalt server`:
# Python's xmlrpc.client calling scheduler.jobs.submit from C parallel
# clients, each call a new HTTP connection (as lavacli's), the median of
# RUNS runs for each C. The jobs stay queued: the devices' worker is
# never started, as in the anchor's measurement (a) of Debian's
# lava-server (../shared/anchor/lava-server/README.md).
#
#   bench/server/submit-rate.sh [RUNS] [TOTAL]                        SQLite
#   scripts/with-postgres.sh bench/server/submit-rate.sh [RUNS] [TOTAL]   PostgreSQL
#
# RUNS (default 3) runs of TOTAL (default 500) submissions for each number
# of clients in CLIENTS (default "1 4 16"); LIMIT (default 120) bounds one
# run's seconds. JOB is the definition (default examples/qemu/job.yaml:
# every submission is validated in full, the qemu01 dictionary rendered
# and the pipeline built, as the issue asks). Results in
# build/bench/server/submit-rate-<time>/: runs.jsonl (one line per run,
# with the server's CPU time over it: the clients share the two cores, so
# jobs per server CPU second says what the server alone could take),
# summary.txt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
TOTAL=${2:-500}
CLIENTS=${CLIENTS:-1 4 16}
LIMIT=${LIMIT:-120}
JOB=${JOB:-$ROOT/examples/qemu/job.yaml}
bench_init submit-rate

new_lab "$OUT/lab"
add_worker bench-offline
manage devices add qemu01 --device-type qemu --worker bench-offline --dictionary "$ROOT/examples/qemu/device.jinja2" >/dev/null
start_server
db=sqlite
[ -n "${BASALT_POSTGRES_DSN:-}" ] && db=postgresql

# Warm up (the first calls pay for templates read and caches filled).
$PY "$ROOT/bench/server/submit.py" "$RPC" "$JOB" 5 1 60 >"$OUT/warmup.json"
grep -q '"errors": 0' "$OUT/warmup.json" || { echo "warm-up submissions failed:" >&2; cat "$OUT/warmup.json" >&2; exit 1; }

for run in $(seq "$RUNS"); do
  for c in $CLIENTS; do
    cpu0=$(cpu_s "$SERVER_PID")
    $PY "$ROOT/bench/server/submit.py" "$RPC" "$JOB" "$TOTAL" "$c" "$LIMIT" >"$OUT/run.json"
    cpu1=$(cpu_s "$SERVER_PID")
    # The server's own CPU per submission: what the rate would be if the
    # server had a core to itself (the clients share the machine).
    $PY -c 'import json, sys; r = json.load(open(sys.argv[1])); cpu = float(sys.argv[5]) - float(sys.argv[4]);
r.update(run=int(sys.argv[2]), db=sys.argv[3], server_cpu_s=round(cpu, 3),
         server_cpu_ms_per_job=round(1000 * cpu / r["ok"], 3) if r["ok"] else None,
         per_server_cpu_s=round(r["ok"] / cpu, 1) if cpu > 0 else None); print(json.dumps(r))' \
      "$OUT/run.json" "$run" "$db" "$cpu0" "$cpu1" | tee -a "$OUT/runs.jsonl"
  done
done
read -r rss hwm < <(rss_kib "$SERVER_PID")

{
  echo "basalt server, scheduler.jobs.submit over XML-RPC, $db, job $(basename "$JOB") ($(wc -c <"$JOB") bytes)"
  echo "$RUNS run(s) of $TOTAL submissions per client count; machine: $(nproc) cores, load at end $(loadavg)"
  printf '%-8s %-10s %-16s %-22s %-14s %s\n' clients "jobs/s" "median latency" "server CPU per job" "anchor jobs/s" ratio
  for c in $CLIENTS; do
    rate=$(jq -r "select(.clients == $c) | .per_s" "$OUT/runs.jsonl" | median)
    lat=$(jq -r "select(.clients == $c) | .lat_ms_median" "$OUT/runs.jsonl" | median)
    errs=$(jq -s "map(select(.clients == $c) | .errors) | add" "$OUT/runs.jsonl")
    # The anchor's figures (Debian lava-server 2023.01, same machine
    # class, load 3.3-3.5): 9.4 jobs/s with 1 client, 10.9 with 4.
    anchor=10.9
    [ "$c" = 1 ] && anchor=9.4
    cpu=$(jq -r "select(.clients == $c) | .server_cpu_ms_per_job" "$OUT/runs.jsonl" | median)
    printf '%-8s %-10s %-16s %-22s %-14s x%s%s\n' "$c" "$rate" "${lat} ms" "${cpu} ms" "$anchor" \
      "$(awk -v a="$rate" -v b="$anchor" 'BEGIN {printf "%.0f", a / b}')" \
      "$([ "$errs" = 0 ] || echo "  ($errs errors)")"
  done
  echo "server RSS at the end: $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB), $(jq -s 'map(.ok) | add' "$OUT/runs.jsonl") jobs queued"
} | tee "$OUT/summary.txt"
