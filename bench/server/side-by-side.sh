#!/bin/bash
# Basalt's server and Debian's lava-server 2023.01 measured in one run, on
# the same machine and the same work, one step after the other (never at
# the same time: they would share the two cores), with the load average at
# every step; medians of the runs that did not fail, and ratios from this
# run only.
#
#   bench/server/side-by-side.sh                                SQLite
#   scripts/with-postgres.sh bench/server/side-by-side.sh       Basalt on PostgreSQL
#
# Steps (each side's figures from the same client or the same method):
#
#   (a) submit: scheduler.jobs.submit over XML-RPC with bench/server/submit.py
#       (Python's xmlrpc.client, a new connection per call), 1 and 4
#       clients (CLIENTS), RUNS runs alternating the sides, the same job on
#       both: examples/qemu/job.yaml tagged bench-only, type qemu, which
#       only a device in Maintenance (LAVA) or on a worker that never
#       connects (Basalt) carries, so the jobs stay queued. Each side's
#       whole cost is its CPU time over the run: LAVA's gunicorn (master and
#       workers), lava-scheduler, lava-publisher and PostgreSQL (the
#       postmaster, its live children and the children it reaped); Basalt's
#       server (and its PostgreSQL cluster when on PostgreSQL).
#   (b) sched: one scheduling pass with 1,000 queued jobs and 50 idle
#       devices every job fits (the anchor's B3): LAVA's
#       scheduler.schedule() in a rolled-back transaction (lava-bench.py
#       sched, the anchor's bench_sched.py method); Basalt's
#       (*lab.Lab).Pass (sched-pass: cold, restart and warm), also at
#       10,000 x 1,000.
#       LAVA_NONE=1 adds LAVA's B2 (no job fits: ~30-45 s a pass).
#   (c) latency: one real QEMU job (the example job, TCG) on each:
#       LAVA's qemu01 with its lava-worker, Basalt's qemu01 with
#       `basalt worker`; bench/server/latency.py polls both the same way.
#   (d) memory: the PSS of each side's server processes idle (before (a))
#       and after its QEMU job; Basalt also while holding and reading 1 GB
#       of logs (memory.sh). LAVA's 1 GB is not measured: its logs are
#       written by lava-run from a real job, and no job of the fixtures
#       writes more than ~100 KB.
#
# Debian's lava-server: ../shared/anchor/lava-server/ (LAVA_ANCHOR).
# When it is not running, this runs its setup.sh (about 4 minutes on a
# fresh machine, 15-30 s when installed) and its stop.sh at the end;
# when it was running already it is left running. Settings: RUNS (3),
# CLIENTS ("1 4"), LAVA_TOTAL (100) and BASALT_TOTAL (500) submissions a
# run, SCHED_RUNS (3), LATENCY_RUNS (1), MEM_TOTAL (1G; 0 skips it),
# FIXTURES (build/fixtures/x86_64), STEPS ("submit sched latency memory").
# Results: build/bench/server/side-by-side-<time>/runs.jsonl (one JSON
# line per measurement: side, step, figures, load), summary.txt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-1 4}
LAVA_TOTAL=${LAVA_TOTAL:-100}
BASALT_TOTAL=${BASALT_TOTAL:-500}
SCHED_RUNS=${SCHED_RUNS:-3}
LATENCY_RUNS=${LATENCY_RUNS:-1}
MEM_TOTAL=${MEM_TOTAL:-1G}
STEPS=${STEPS:-submit sched latency memory}
FIXTURES=${FIXTURES:-$ROOT/build/fixtures/x86_64}
ANCHOR=${LAVA_ANCHOR:-$ROOT/../shared/anchor/lava-server}
LIMIT=300
bench_init side-by-side
RES=$OUT/runs.jsonl
db=sqlite
[ -n "${BASALT_POSTGRES_DSN:-}" ] && db=postgresql

has_step() { [[ " $STEPS " == *" $1 "* ]]; }

# ---------------------------------------------------------------- LAVA
LAVA_STATE=/var/lib/lava-server-anchor
LAVA_RUN=/run/lava-anchor
lava_up() {
  local p
  for p in gunicorn lava-publisher lava-scheduler lava-worker; do
    [ -s "$LAVA_RUN/$p.pid" ] && kill -0 "$(cat "$LAVA_RUN/$p.pid")" 2>/dev/null || return 1
  done
}
STARTED_LAVA=0
if ! lava_up; then
  [ -x "$ANCHOR/setup.sh" ] || { echo "no $ANCHOR/setup.sh (LAVA_ANCHOR)" >&2; exit 1; }
  echo "starting Debian's lava-server: $ANCHOR/setup.sh (log in $OUT/lava-setup.log)" >&2
  (cd "$ROOT" && LAVA_FIXTURES=$FIXTURES "$ANCHOR/setup.sh") >"$OUT/lava-setup.log" 2>&1 ||
    { tail -20 "$OUT/lava-setup.log" >&2; exit 1; }
  STARTED_LAVA=1
fi
lava_stop() {
  if [ "$STARTED_LAVA" = 1 ]; then
    "$ANCHOR/stop.sh" >"$OUT/lava-stop.log" 2>&1 || echo "lava stop.sh failed: see $OUT/lava-stop.log" >&2
    STARTED_LAVA=0
  fi
}
on_exit() {
  stop_all
  lava_stop
}
trap on_exit EXIT
trap 'on_exit; exit 130' INT TERM

LAVA_PORT=$(cat "$LAVA_STATE/port" 2>/dev/null || echo 24080)
LAVA_RPC="http://admin:$(cat "$LAVA_STATE/admin.token")@127.0.0.1:$LAVA_PORT/RPC2"
LAVA_FIXTURE_PORT=${LAVA_FIXTURE_PORT:-24800}

# lava_manage MODE [VAR=VALUE...]: lava-bench.py inside lava-server's
# Django; prints its BENCH line's JSON.
lava_manage() {
  local mode=$1
  shift
  env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin BENCH_MODE="$mode" "$@" \
    lava-server manage shell <"$ROOT/bench/server/lava-bench.py" >"$OUT/lava-$mode.out" 2>&1 || true
  grep '^BENCH ' "$OUT/lava-$mode.out" | tail -1 | cut -c7- | grep . ||
    { echo "lava-bench.py $mode failed:" >&2; tail -20 "$OUT/lava-$mode.out" >&2; return 1; }
}

# The server's processes (not the worker): gunicorn master and workers,
# lava-publisher, lava-scheduler; PostgreSQL's postmaster apart.
lava_server_pids() {
  local p
  for p in gunicorn lava-publisher lava-scheduler; do
    [ -s "$LAVA_RUN/$p.pid" ] && cat "$LAVA_RUN/$p.pid"
  done
  ps -o pid= --ppid "$(cat "$LAVA_RUN/gunicorn.pid")"
}
lava_pg_master() {
  head -1 /var/run/postgresql/15-main.pid
}

# cpu_tree_s PID: a process's CPU time, the CPU of the children it has
# reaped, and that of its live children (PostgreSQL's backends come and go).
cpu_tree_s() {
  local hz c sum
  hz=$(getconf CLK_TCK)
  sum=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0)
  for c in $(ps -o pid= --ppid "$1"); do
    sum=$((sum + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
  done
  awk -v t="$sum" -v hz="$hz" 'BEGIN {print t / hz}'
}
lava_cpu_s() {
  local p sum=0
  for p in gunicorn lava-publisher lava-scheduler; do
    sum=$(awk -v a="$sum" -v b="$(cpu_tree_s "$(cat "$LAVA_RUN/$p.pid")")" 'BEGIN {print a + b}')
  done
  awk -v a="$sum" -v b="$(cpu_tree_s "$(lava_pg_master)")" 'BEGIN {print a + b}'
}
basalt_cpu_s() {
  local sum pm
  sum=$(cpu_tree_s "$SERVER_PID")
  pm=$(pg_pids | head -1)
  [ -n "$pm" ] && sum=$(awk -v a="$sum" -v b="$(cpu_tree_s "$pm")" 'BEGIN {print a + b}')
  echo "$sum"
}

# pss_row SIDE PHASE: one JSON line, the PSS (MiB) of the side's server
# processes and of its PostgreSQL.
pss_row() {
  local server pg
  if [ "$1" = lava ]; then
    # shellcheck disable=SC2046
    server=$(pss_kib $(lava_server_pids))
    pg=$(lava_pg_master)
    # shellcheck disable=SC2046
    pg=$(pss_kib "$pg" $(ps -o pid= --ppid "$pg"))
  else
    server=$(pss_kib "$SERVER_PID")
    # shellcheck disable=SC2046
    pg=$(pss_kib $(pg_pids))
  fi
  jq -nc --arg side "$1" --arg phase "$2" --argjson s "$server" --argjson p "$pg" --arg load "$(loadavg)" \
    '{side: $side, step: "memory", phase: $phase, server_pss_mib: ($s / 1024 | . * 10 | round / 10),
      pg_pss_mib: ($p / 1024 | . * 10 | round / 10), total_pss_mib: (($s + $p) / 1024 | . * 10 | round / 10), load: $load}' | tee -a "$RES"
}

record() { # SIDE STEP JSON: the JSON with side, step and load added, into runs.jsonl
  jq -c --arg side "$1" --arg step "$2" --arg load "$(loadavg)" '. + {side: $side, step: $step, load: $load}' <<<"$3" | tee -a "$RES"
}

# Versions, as each server reports them.
LAVA_VERSION=$($PY -c 'import sys, xmlrpc.client; print(xmlrpc.client.ServerProxy(sys.argv[1]).system.version())' "$LAVA_RPC")
LAVA_DEB=$(dpkg-query -W -f '${Version}' lava-server)
BASALT_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . 2>/dev/null || echo +dirty)

# The job of (a), valid on both: the example job, tagged bench-only.
sed -e "s#http://127.0.0.1:8000/#http://127.0.0.1:$LAVA_FIXTURE_PORT/#g" -e 's/^device_type: qemu$/device_type: qemu\ntags:\n- bench-only/' \
  "$ROOT/examples/qemu/job.yaml" >"$OUT/job-submit.yaml"
grep -q '^- bench-only' "$OUT/job-submit.yaml" || { echo "could not tag examples/qemu/job.yaml" >&2; exit 1; }
lava_manage fixture DEVICES=50 >/dev/null
lava_manage clean >/dev/null

# ---------------------------------------------------------------- Basalt's lab for (a) and (d)
# fresh_pg_schema NAME: on PostgreSQL, each lab of this run in a schema of
# its own (the cluster is scripts/with-postgres.sh's, made for this run).
PG_BASE_DSN=${BASALT_POSTGRES_DSN:-}
fresh_pg_schema() {
  [ -n "$PG_BASE_DSN" ] || return 0
  PGOPTIONS=--client-min-messages=warning psql "$PG_BASE_DSN" -qc "DROP SCHEMA IF EXISTS $1 CASCADE; CREATE SCHEMA $1" >/dev/null
  export BASALT_POSTGRES_DSN="$PG_BASE_DSN&search_path=$1"
}
fresh_pg_schema sbs_submit
new_lab "$OUT/basalt"
add_worker bench-offline
manage devices add qemu01 --device-type qemu --worker bench-offline --tags bench-only \
  --dictionary "$ROOT/examples/qemu/device.jinja2" >/dev/null
start_server
BASALT_VERSION=$($PY -c 'import sys, xmlrpc.client; print(xmlrpc.client.ServerProxy(sys.argv[1]).system.version())' "$RPC")
echo "lava-server $LAVA_DEB ($LAVA_VERSION) on :$LAVA_PORT; basalt $BASALT_VERSION at $BASALT_COMMIT ($db) on $ADDR" | tee "$OUT/versions.txt"

sleep 5
pss_row lava idle >/dev/null
pss_row basalt idle >/dev/null

# ---------------------------------------------------------------- (a)
submit_run() { # SIDE URI TOTAL CLIENTS RUN
  local c0 c1 got
  if [ "$1" = lava ]; then c0=$(lava_cpu_s); else c0=$(basalt_cpu_s); fi
  got=$($PY "$ROOT/bench/server/submit.py" "$2" "$OUT/job-submit.yaml" "$3" "$4" "$LIMIT")
  if [ "$1" = lava ]; then c1=$(lava_cpu_s); else c1=$(basalt_cpu_s); fi
  got=$(jq -c --argjson run "$5" --argjson c0 "$c0" --argjson c1 "$c1" \
    '. + {run: $run, cpu_s: (($c1 - $c0) * 1000 | round / 1000)} | . + {cpu_ms_per_job: (if .ok > 0 then (1000 * .cpu_s / .ok * 100 | round / 100) else null end)} | del(.loadavg)' <<<"$got")
  record "$1" submit "$got"
}
if has_step submit; then
  echo "== (a) submissions" >&2
  submit_run lava "$LAVA_RPC" 5 1 0 >/dev/null
  submit_run basalt "$RPC" 5 1 0 >/dev/null
  for run in $(seq "$RUNS"); do
    for c in $CLIENTS; do
      submit_run lava "$LAVA_RPC" "$LAVA_TOTAL" "$c" "$run"
      submit_run basalt "$RPC" "$BASALT_TOTAL" "$c" "$run"
    done
  done
  lava_manage clean | record lava cleanup "$(cat)" >/dev/null
fi
pss_row basalt after-submit >/dev/null
stop_all

# ---------------------------------------------------------------- (b)
if has_step sched; then
  echo "== (b) one scheduling pass" >&2
  (cd "$ROOT" && go build -o "$OUT/sched-pass" ./bench/server/sched-pass)
  sed -e 's/^device_type: qemu$/device_type: bench/' "$ROOT/examples/qemu/job.yaml" >"$OUT/job-bench.yaml"
  lava_manage queue JOBS=1000 DEF="$OUT/job-bench.yaml" | record lava queue "$(cat)" >/dev/null
  lava_manage sched RUNS="$SCHED_RUNS" | record lava "sched" "$(cat)"
  lava_manage clean | record lava cleanup "$(cat)" >/dev/null
  if [ "${LAVA_NONE:-0}" = 1 ]; then
    # B2: the same queue tagged so that no bench device takes it.
    sed -e 's/^device_type: qemu$/device_type: bench\ntags:\n- bench-only/' "$ROOT/examples/qemu/job.yaml" >"$OUT/job-bench-none.yaml"
    lava_manage queue JOBS=1000 DEF="$OUT/job-bench-none.yaml" | record lava queue "$(cat)" >/dev/null
    lava_manage sched RUNS=1 | jq -c '. + {scenario: "none"}' | record lava "sched" "$(cat)"
    lava_manage clean | record lava cleanup "$(cat)" >/dev/null
  fi
  pgdb=sqlite
  [ "$db" = postgresql ] && pgdb=postgres
  for size in "1000 50 1" "10000 1000 10"; do
    read -r jobs devices workers <<<"$size"
    BASALT_POSTGRES_DSN=$PG_BASE_DSN "$OUT/sched-pass" -root "$ROOT" -db "$pgdb" -jobs "$jobs" -devices "$devices" -workers "$workers" -runs "$SCHED_RUNS" |
      while read -r line; do record basalt sched "$line"; done
  done
fi

# ---------------------------------------------------------------- (c)
if has_step latency; then
  echo "== (c) one real QEMU job on each" >&2
  [ -f "$FIXTURES/vmlinuz" ] || { echo "no fixtures in $FIXTURES (make fixtures, or FIXTURES=DIR)" >&2; exit 1; }
  sed "s#http://127.0.0.1:8000/#http://127.0.0.1:$LAVA_FIXTURE_PORT/#g" "$ROOT/examples/qemu/job.yaml" >"$OUT/job-lava.yaml"
  for run in $(seq "$LATENCY_RUNS"); do
    record lava latency "$($PY "$ROOT/bench/server/latency.py" "$LAVA_RPC" "$OUT/job-lava.yaml" 0.05 1200 | jq -c --argjson run "$run" '. + {run: $run} | del(.loadavg)')"
  done
  pss_row lava after-job >/dev/null

  port=$(free_port)
  $PY -m http.server "$port" --bind 127.0.0.1 --directory "$FIXTURES" >"$OUT/fixtures.log" 2>&1 &
  PIDS+=("$!")
  sed "s#http://127.0.0.1:8000/#http://127.0.0.1:$port/#g" "$ROOT/examples/qemu/job.yaml" >"$OUT/job-basalt.yaml"
  fresh_pg_schema sbs_latency
  new_lab "$OUT/basalt-latency"
  add_worker w1
  manage devices add qemu01 --device-type qemu --worker w1 --dictionary "$ROOT/examples/qemu/device.jinja2" >/dev/null
  manage devices update qemu01 --health Good >/dev/null
  start_server
  start_worker w1
  sleep 2
  pss_row basalt idle-with-worker >/dev/null
  for run in $(seq "$LATENCY_RUNS"); do
    record basalt latency "$($PY "$ROOT/bench/server/latency.py" "$RPC" "$OUT/job-basalt.yaml" 0.05 1200 | jq -c --argjson run "$run" '. + {run: $run} | del(.loadavg)')"
  done
  pss_row basalt after-job >/dev/null
  stop_all
fi

# ---------------------------------------------------------------- (d)
if has_step memory && [ "$MEM_TOTAL" != 0 ]; then
  echo "== (d) Basalt holding and reading $MEM_TOTAL of logs" >&2
  fresh_pg_schema sbs_memory
  BENCH_OUT=$OUT/memory "$ROOT/bench/server/memory.sh" "$MEM_TOTAL" 10 >"$OUT/memory.log" 2>&1 ||
    echo "memory.sh failed: see $OUT/memory.log" >&2
  if [ -s "$OUT/memory/summary.txt" ]; then
    jq -nc --rawfile s "$OUT/memory/summary.txt" --arg total "$MEM_TOTAL" \
      '{phase: "logs", total: $total,
        rss_max_fill_mib: ($s | capture("RSS max while filling +(?<v>[0-9.]+)").v | tonumber),
        rss_max_hold_mib: ($s | capture("RSS max holding \\(finished\\) +(?<v>[0-9.]+)").v | tonumber),
        rss_max_read_mib: ($s | capture("RSS max while a client reads +(?<v>[0-9.]+)").v | tonumber),
        peak_mib: ($s | capture("peak \\(VmHWM\\) over the run +(?<v>[0-9.]+)").v | tonumber),
        server_pss_end_mib: ($s | capture("PSS at the end: server / PostgreSQL +(?<v>[0-9]+)").v | tonumber),
        pg_pss_end_mib: ($s | capture("PSS at the end: server / PostgreSQL +[0-9]+ / (?<v>[0-9]+)").v | tonumber)}' |
      record basalt memory "$(cat)"
  fi
fi
lava_stop

# ---------------------------------------------------------------- summary
med() { # JQ-FILTER: the median of the selected numbers of runs.jsonl
  jq -r "$1 // empty" "$RES" | median 2>/dev/null || echo -
}
ratio() { # A B [DIGITS]: A / B
  awk -v a="$1" -v b="$2" -v d="${3:-0}" 'BEGIN {if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "x%.*f", d, a / b}'
}
loads() { # JQ-SELECT: the load averages (1 min) of those lines, min-max
  jq -r "select($1) | .load | split(\" \")[0]" "$RES" | sort -g | sed -n '1p;$p' | paste -sd- -
}
{
  echo "Basalt's server beside Debian's lava-server, one run, $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores"
  cat "$OUT/versions.txt"
  echo
  if has_step submit; then
    echo "(a) scheduler.jobs.submit over XML-RPC (submit.py), median of $RUNS runs; LAVA $LAVA_TOTAL, Basalt $BASALT_TOTAL submissions a run; failed runs dropped"
    printf '%-8s %-14s %-14s %-8s %-16s %-16s %-22s %s\n' clients "LAVA jobs/s" "Basalt jobs/s" ratio "LAVA CPU/job" "Basalt CPU/job" "CPU ratio (per job)" "load (1 min)"
    for c in $CLIENTS; do
      ok='.step == "submit" and .run > 0 and .errors == 0 and .clients == '$c
      l=$(med "select($ok and .side == \"lava\") | .per_s")
      b=$(med "select($ok and .side == \"basalt\") | .per_s")
      lc=$(med "select($ok and .side == \"lava\") | .cpu_ms_per_job")
      bc=$(med "select($ok and .side == \"basalt\") | .cpu_ms_per_job")
      printf '%-8s %-14s %-14s %-8s %-16s %-16s %-22s %s\n' "$c" "$l" "$b" "$(ratio "$b" "$l")" "$lc ms" "$bc ms" "$(ratio "$lc" "$bc")" \
        "$(loads "$ok")"
    done
    echo "failed runs: $(jq -s 'map(select(.step == "submit" and .run > 0 and .errors > 0)) | length' "$RES")"
    echo
  fi
  if has_step sched; then
    echo "(b) one scheduling pass, every job fits (LAVA: schedule() rolled back; Basalt: (*lab.Lab).Pass), median of $SCHED_RUNS"
    l=$(med 'select(.side == "lava" and .step == "sched" and (.scenario // "fit") == "fit") | .median_s')
    lq=$(jq -r 'select(.side == "lava" and .step == "sched" and (.scenario // "fit") == "fit") | "\(.queued) x \(.idle_devices), \(.scheduled) scheduled, \(.queries | join("/")) SQL, load \(.load)"' "$RES")
    echo "  LAVA   1000 x 50:    $l s  ($lq)"
    jq -r 'select(.side == "basalt" and .step == "sched") | "\(.scenario) \(.queued) \(.devices) \(.assigned_per_warm_pass) \(.cold_median_s * 1000 | round / 1000) \((.restart_median_s // null) | if . == null then "-" else (. * 1000 | round / 1000) end) \(.warm_median_s * 1000 | round / 1000) \(.load)"' "$RES" |
      while read -r sc q d a cold restart warm load1 load5 load15; do
        extra=""
        if [ "$q" = 1000 ] && [ "$d" = 50 ] && [ "$sc" = fit ]; then
          extra="  LAVA/Basalt: cold $(ratio "$l" "$cold"), warm $(ratio "$l" "$warm")"
        fi
        if [ "$q" = 1000 ] && [ "$d" = 50 ] && [ "$sc" = none ]; then
          ln=$(med 'select(.side == "lava" and .step == "sched" and .scenario == "none") | .median_s')
          lsn=$(jq -r 'select(.side == "lava" and .step == "sched" and .scenario == "none") | .scheduled' "$RES" | head -1)
          [ "$ln" != - ] && extra="  LAVA (none, $lsn scheduled) $ln s: cold $(ratio "$ln" "$cold"), warm $(ratio "$ln" "$warm")"
        fi
        printf '  Basalt %-5s x %-5s %-5s assigned %-5s cold %-8s restart %-8s warm %-8s load %s%s\n' "$q" "$d" "$sc" "$a" "$cold s" "$restart s" "$warm s" "$load1" "$extra"
      done
    echo
  fi
  if has_step latency; then
    echo "(c) one real QEMU job (TCG) on each, client polling every 0.05 s (included)"
    printf '%-8s %-22s %-24s %-14s %s\n' side "submit -> Running (s)" "end -> Finished seen (s)" "state" "load (1 min)"
    for side in lava basalt; do
      sel="select(.side == \"$side\" and .step == \"latency\")"
      printf '%-8s %-22s %-24s %-14s %s\n' "$side" "$(med "$sel | .submit_to_running_s")" "$(med "$sel | .end_to_recorded_s")" \
        "$(jq -r "$sel | \"\(.state)/\(.health)\"" "$RES" | sort | uniq -c | paste -sd' ' | sed 's/^ *//')" \
        "$(loads ".side == \"$side\" and .step == \"latency\"")"
    done
    ls=$(med 'select(.side == "lava" and .step == "latency") | .submit_to_running_s')
    bs=$(med 'select(.side == "basalt" and .step == "latency") | .submit_to_running_s')
    le=$(med 'select(.side == "lava" and .step == "latency") | .end_to_recorded_s')
    be=$(med 'select(.side == "basalt" and .step == "latency") | .end_to_recorded_s')
    echo "ratios LAVA/Basalt: submit -> Running $(ratio "$ls" "$bs"), end -> Finished $(ratio "$le" "$be")"
    echo
  fi
  echo "(d) PSS (MiB) of each side's server processes + its PostgreSQL"
  jq -r 'select(.step == "memory" and .phase != "logs") | "  \(.side) \(.phase): server \(.server_pss_mib) + PostgreSQL \(.pg_pss_mib) = \(.total_pss_mib) (load \(.load))"' "$RES"
  jq -r 'select(.step == "memory" and .phase == "logs") | "  basalt with \(.total) of logs in 10 jobs: RSS max filling \(.rss_max_fill_mib), holding \(.rss_max_hold_mib), reading \(.rss_max_read_mib), peak \(.peak_mib); PSS at the end \(.server_pss_end_mib) + PostgreSQL \(.pg_pss_end_mib) (load \(.load))"' "$RES"
  li=$(med 'select(.side == "lava" and .step == "memory" and .phase == "idle") | .total_pss_mib')
  bi=$(med 'select(.side == "basalt" and .step == "memory" and .phase == "idle") | .total_pss_mib')
  la=$(med 'select(.side == "lava" and .step == "memory" and .phase == "after-job") | .total_pss_mib')
  ba=$(med 'select(.side == "basalt" and .step == "memory" and .phase == "after-job") | .total_pss_mib')
  # Basalt's server at its peak (RSS, an upper bound of its PSS) plus its
  # PostgreSQL's PSS.
  bp=$(med 'select(.side == "basalt" and .step == "memory" and .phase == "logs") | .peak_mib + .pg_pss_end_mib')
  echo "ratios LAVA/Basalt: idle $(ratio "$li" "$bi" 1), after the job $(ratio "$la" "$ba" 1), LAVA after the job / Basalt's peak (+ PostgreSQL) with $MEM_TOTAL of logs $(ratio "$la" "$bp" 1)"
} | tee "$OUT/summary.txt"
