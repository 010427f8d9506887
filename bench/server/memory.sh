#!/bin/bash
# The memory of a real `basalt server` while it takes in, holds and serves
# TOTAL bytes of logs (default 1G) across JOBS jobs (default 10):
#
#   1. JOBS jobs are submitted over XML-RPC and given to a load worker
#      (bench/server/logload: the real worker protocol client, running
#      nothing) that streams LAVA log records into them and finishes them;
#   2. a client reads every log back as `lavacli jobs logs` pages it
#      (bench/server/read-logs.py, scheduler.jobs.logs from the line count).
#
# The server's VmRSS is sampled every 0.2 s with the bytes on disk under
# its jobs folder (samples.tsv: phase, seconds, RSS KiB, peak KiB, log
# bytes). The aim (issue 11): under 100 MiB, flat whatever the logs'
# size; the anchor (Debian's lava-server, ../shared/anchor/lava-server/):
# ~600 MiB PSS for its server processes at rest.
#
#   bench/server/memory.sh [TOTAL] [JOBS]
#   scripts/with-postgres.sh bench/server/memory.sh [TOTAL] [JOBS]
#
# The data folder (TOTAL bytes of logs) is removed at the end unless
# KEEP=1. Results: build/bench/server/memory-<time>/samples.tsv,
# fill.jsonl, read.json, summary.txt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
TOTAL=${1:-1G}
JOBS=${2:-10}
case $TOTAL in
*G) bytes=$((${TOTAL%G} << 30)) ;;
*M) bytes=$((${TOTAL%M} << 20)) ;;
*) bytes=$TOTAL ;;
esac
per_job=$((bytes / JOBS))
bench_init memory
(cd "$ROOT" && go build -o "$OUT/logload" ./bench/server/logload)

new_lab "$OUT/lab"
add_worker load
for i in $(seq "$JOBS"); do
  manage devices add "load$i" --device-type qemu --worker load --dictionary "$ROOT/examples/qemu/device.jinja2" >/dev/null
  manage devices update "load$i" --health Good >/dev/null
done
start_server
db=sqlite
[ -n "${BASALT_POSTGRES_DSN:-}" ] && db=postgresql

echo idle >"$OUT/phase"
sampler() {
  local t0 phase r h d
  t0=$(date +%s.%N)
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    phase=$(cat "$OUT/phase")
    read -r r h < <(rss_kib "$SERVER_PID") || break
    d=$(du -sb "$DATA/jobs" 2>/dev/null | cut -f1)
    printf '%s\t%.1f\t%s\t%s\t%s\n' "$phase" "$(echo "$(date +%s.%N) - $t0" | bc)" "$r" "$h" "${d:-0}"
    sleep 0.2
  done
}
sampler >"$OUT/samples.tsv" &
PIDS+=("$!")
sleep 1

# Submit: the jobs go to the load worker's devices as it polls.
echo submit >"$OUT/phase"
$PY "$ROOT/bench/server/submit.py" "$RPC" "$ROOT/examples/qemu/job.yaml" "$JOBS" 1 120 >"$OUT/submit.json"
[ "$(jq -r .ok "$OUT/submit.json")" = "$JOBS" ] || { echo "submission failed:" >&2; cat "$OUT/submit.json" >&2; exit 1; }
# A fresh lab: the ids run from the first.
first=$(jq -r .first_id "$OUT/submit.json")
ids=$(seq "$first" $((first + JOBS - 1)) | paste -sd' ')

echo fill >"$OUT/phase"
"$OUT/logload" -url "$URL" -worker load -token-file "$DATA/load.token" -jobs "$JOBS" -bytes "$per_job" -finish >"$OUT/fill.jsonl"
echo hold >"$OUT/phase"
sleep 3
echo read >"$OUT/phase"
# shellcheck disable=SC2086
$PY "$ROOT/bench/server/read-logs.py" "$RPC" $ids >"$OUT/read.json"
echo after >"$OUT/phase"
sleep 2
read -r rss hwm < <(rss_kib "$SERVER_PID")
server_pss=$(pss_kib "$SERVER_PID")
# shellcheck disable=SC2046
pg_pss=$(pss_kib $(pg_pids))
stop_all

# The figures, in MiB.
stat() { # PHASE: max RSS in that phase
  awk -F'\t' -v p="$1" '$1 == p && $3 > m {m = $3} END {printf "%.1f", m / 1024}' "$OUT/samples.tsv"
}
at() { # FRACTION: RSS at the first fill sample past that fraction of the bytes
  awk -F'\t' -v f="$1" -v b="$bytes" '$1 == "fill" && $5 >= f * b {printf "%.1f", $3 / 1024; exit}' "$OUT/samples.tsv"
}
{
  echo "basalt server, $db, $JOBS jobs x $((per_job >> 20)) MiB of logs ($(awk -v b="$bytes" 'BEGIN {printf "%.2f", b / 2^30}') GiB); $(nproc) cores, load at end $(loadavg)"
  echo "fill: $(tail -1 "$OUT/fill.jsonl")"
  echo "read: $(cat "$OUT/read.json")"
  printf '%-34s %s\n' "RSS idle (MiB)" "$(stat idle)"
  printf '%-34s %s\n' "RSS at 10% / 50% / 95% of the fill" "$(at 0.1) / $(at 0.5) / $(at 0.95)"
  printf '%-34s %s\n' "RSS max while filling" "$(stat fill)"
  printf '%-34s %s\n' "RSS max holding (finished)" "$(stat hold)"
  printf '%-34s %s\n' "RSS max while a client reads" "$(stat read)"
  printf '%-34s %s\n' "peak (VmHWM) over the run" "$((hwm / 1024))"
  printf '%-34s %s\n' "PSS at the end: server / PostgreSQL" "$((server_pss / 1024)) / $((pg_pss / 1024)) (the anchor's server processes and PostgreSQL: ~600)"
  peak=$((hwm / 1024))
  echo "against the aim (100 MiB): $(awk -v p="$peak" 'BEGIN {printf "%.2f", p / 100}') of it; against the anchor's ~600 MiB: x$(awk -v p="$peak" 'BEGIN {printf "%.1f", 600 / p}') less"
} | tee "$OUT/summary.txt"
[ "${KEEP:-0}" = 1 ] || rm -rf "$OUT/lab/jobs"
