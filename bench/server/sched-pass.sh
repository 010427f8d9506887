#!/bin/bash
# One scheduling pass of the lab ((*lab.Lab).Pass: the store's queries,
# the devices' configurations checked, scheduler.Pass, one transaction per
# assignment), on SQLite and, when PostgreSQL's server programs are
# installed, on a private PostgreSQL (scripts/with-postgres.sh), at two
# sizes: the anchor's (1,000 queued jobs, 50 devices) and the issue's aim
# (10,000 jobs, 1,000 devices). See sched-pass/main.go for the scenarios
# (fit, none) and what cold, restart and warm mean; "reads" is the store reads a
# pass starts with, timed alone.
#
#   bench/server/sched-pass.sh [RUNS]      (default 5)
#
# Results: build/bench/server/sched-pass-<time>/runs.jsonl, summary.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin:$HOME/go/bin:$PATH
RUNS=${1:-5}
OUT=${BENCH_OUT:-$ROOT/build/bench/server/sched-pass-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$OUT"
(cd "$ROOT" && go build -o "$OUT/sched-pass" ./bench/server/sched-pass)

sizes=("1000 50" "10000 1000")
for size in "${sizes[@]}"; do
  read -r jobs devices <<<"$size"
  workers=$((devices < 10 ? 1 : 10))
  "$OUT/sched-pass" -root "$ROOT" -db sqlite -jobs "$jobs" -devices "$devices" -workers "$workers" -runs "$RUNS" | tee -a "$OUT/runs.jsonl"
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    "$ROOT/scripts/with-postgres.sh" "$OUT/sched-pass" -root "$ROOT" -db postgres -jobs "$jobs" -devices "$devices" -workers "$workers" -runs "$RUNS" |
      tee -a "$OUT/runs.jsonl"
  fi
done

{
  echo "(*lab.Lab).Pass, median of $RUNS runs each; $(nproc) cores, load at end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "PostgreSQL is scripts/with-postgres.sh's private cluster (fsync=off, full_page_writes=off)."
  printf '%-10s %-8s %-14s %-9s %-10s %-11s %-10s %-10s %s\n' db scenario "jobs x devices" assigned "cold (s)" "restart (s)" "warm (s)" "reads (s)" "anchor (LAVA 2023.01, 1,000 jobs x 50 devices)"
  jq -r '[.db, .scenario, "\(.queued) x \(.devices)", .assigned_per_warm_pass, (.cold_median_s*1000|round/1000), (.restart_median_s*1000|round/1000), (.warm_median_s*1000|round/1000),
    (.snapshot_reads_median_s*1000|round/1000),
    (if .queued != 1000 or .devices != 50 then "(not measured at this size)"
     elif .scenario == "fit" then "B3: 3.6 s (50 scheduled); warm x\(3.6 / .warm_median_s | round), cold x\(3.6 / .cold_median_s | round)"
     else "B2: 43.3 s (32.0 s quieter); warm x\(43.3 / .warm_median_s | round), cold x\(43.3 / .cold_median_s | round)" end)] | @tsv' "$OUT/runs.jsonl" |
    awk -F'\t' '{printf "%-10s %-8s %-14s %-9s %-10s %-11s %-10s %-10s %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9}'
} | tee "$OUT/summary.txt"
