#!/bin/bash
# Load test of two MultiNode coordinators on 127.0.0.1 under the same
# simulated dispatchers: Basalt's (basalt coordinator) and Debian's
# lava-coordinator. Each scenario runs against a freshly started server
# (so that its CPU time and peak memory are the scenario's own), one
# server at a time (they would otherwise share the 2 cores with each
# other as well as with the load tool).
#
#   bench/coordinator/compare.sh [RUNS] [SCENARIO...]     (default: 1 run, all)
#
# Scenarios: sync-1x100 sync-10x10 sendwait-1x100 waitall-role-1x8
# fastpoll-1x100 sync-1x1000 (Basalt only unless LAVA_1000=1); see README.md. Environment: POLL (poll
# delay, default 0.1s), LIMIT (time limit of one load run, default 180s),
# ROUNDS (sync rounds, default 5), BENCH_OUT (output folder).
# Needs lava-coordinator (apt-get install lava-coordinator) and Go.
# Results: build/bench/coordinator/<time>/results.jsonl (one JSON line per
# load run, with the server's CPU and peak RSS and the machine's load
# average before and after), summary.txt, server logs. Each server is one
# process with no children, so its own CPU and memory are the whole of
# its cost. A run whose load tool fails or whose server dies is recorded
# as failed: counted, named, and left out of the medians; a run cut off
# by LIMIT is not a failure but a finding (the "done" column shows it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-1}
shift || true
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(sync-1x100 sync-10x10 sendwait-1x100 waitall-role-1x8 fastpoll-1x100 sync-1x1000)
POLL=${POLL:-0.1s}
LIMIT=${LIMIT:-180s}
ROUNDS=${ROUNDS:-5}
# A pyenv python3 may come first on PATH: lava-coordinator needs Debian's
# (its shebang says /usr/bin/python3; the summary uses it too).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin:$PATH
command -v lava-coordinator >/dev/null || { echo "lava-coordinator is not installed (apt-get install lava-coordinator)" >&2; exit 1; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive number, got '$RUNS'" >&2; exit 2; }

OUT=${BENCH_OUT:-$ROOT/build/bench/coordinator/$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$OUT"
make -C "$ROOT" --no-print-directory build >/dev/null
BASALT=$ROOT/build/basalt
(cd "$ROOT" && go build -o "$OUT/load" ./bench/coordinator/load)

# The server running now, if any: killed and reaped on every way out.
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# free_port prints a TCP port nobody listens on (lava-coordinator binds
# 0.0.0.0, so the check binds all addresses).
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'
}

# wait_listening PORT: until something listens on it (a probe connection
# would cost lava-coordinator a warning: it waits for a header).
wait_listening() {
  local i
  for i in $(seq 100); do
    ss -Hltn "sport = :$1" | grep -q . && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# start_server KIND DIR: starts it on a free port; sets SERVER_PID, ADDR.
start_server() {
  local kind=$1 dir=$2 port
  port=$(free_port)
  ADDR=127.0.0.1:$port
  case $kind in
  basalt)
    "$BASALT" coordinator --listen "$ADDR" >"$dir/server.log" 2>&1 &
    ;;
  lava)
    printf '{"port": %d, "blocksize": 4096, "poll_delay": 1, "coordinator_hostname": "127.0.0.1"}\n' "$port" >"$dir/lava-coordinator.conf"
    lava-coordinator --config "$dir/lava-coordinator.conf" --logfile "$dir/server.log" --loglevel INFO >"$dir/server.out" 2>&1 &
    ;;
  esac
  SERVER_PID=$!
  if ! wait_listening "$port"; then
    echo "$kind coordinator did not start listening on $ADDR; its log:" >&2
    tail -n 20 "$dir/server.log" "$dir/server.out" 2>/dev/null >&2 || true
    exit 1
  fi
}

# server_usage: "CPU_SECONDS PEAK_RSS_KB" of the running server (it has no
# children, so its own figures are the whole of it).
server_usage() {
  local stat hwm
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "warning: the server (pid $SERVER_PID) died during the run" >&2
    echo "null null"; return
  fi
  stat=$(cat "/proc/$SERVER_PID/stat")
  stat=${stat##*) }
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
  # fields after "pid (comm) ": utime is the 12th, stime the 13th.
  awk -v hwm="$hwm" '{printf "%.2f %d\n", ($12 + $13) / 100, hwm}' <<<"$stat"
}

# tcp_counters: "LISTEN_OVERFLOWS SYNCOOKIES_FAILED", the kernel's
# counters (machine-wide, read without touching nstat's history): a
# listen queue that overflows drops SYNs (the client retries after 1 s,
# 3 s, 7 s...), and a SYN cookie that fails to validate is answered with
# a reset. "0 0" when nstat is missing.
tcp_counters() {
  if command -v nstat >/dev/null; then
    nstat -asz TcpExtListenOverflows TcpExtSyncookiesFailed |
      awk '$1 == "TcpExtListenOverflows" {o = $2} $1 == "TcpExtSyncookiesFailed" {f = $2} END {print o + 0, f + 0}'
  else
    echo 0 0
  fi
}

# load_args SCENARIO: the load tool's arguments for it.
load_args() {
  case $1 in
  sync-1x100) echo "-scenario sync -groups 1 -nodes 100 -rounds $ROUNDS" ;;
  sync-10x10) echo "-scenario sync -groups 10 -nodes 10 -rounds $ROUNDS" ;;
  sendwait-1x100) echo "-scenario sendwait -groups 1 -nodes 100 -rounds 3" ;;
  waitall-role-1x8) echo "-scenario waitall-role -groups 1 -nodes 8 -role-members 4 -rounds 2" ;;
  sync-1x1000) echo "-scenario sync -groups 1 -nodes 1000 -rounds 3" ;;
  # A 5 ms poll delay offers far more requests than either server can
  # take: requests/s then measures what the server sustains rather than
  # what 100 sleeping pollers ask for.
  fastpoll-1x100) echo "-scenario sync -groups 1 -nodes 100 -rounds $ROUNDS -poll 5ms" ;;
  *) echo "unknown scenario '$1'" >&2; return 1 ;;
  esac
}

RESULTS=$OUT/results.jsonl
for run in $(seq "$RUNS"); do
  for sc in "${SCENARIOS[@]}"; do
    args=$(load_args "$sc")
    servers=(basalt lava)
    [ "$sc" != sync-1x1000 ] || [ "${LAVA_1000:-0}" = 1 ] || servers=(basalt)
    for kind in "${servers[@]}"; do
      dir=$OUT/$sc-$kind-$run
      mkdir -p "$dir"
      start_server "$kind" "$dir"
      echo "run $run: $sc against $kind ($ADDR)" >&2
      read -r ovf0 ckf0 < <(tcp_counters)
      load0=$(cut -d' ' -f1-3 /proc/loadavg)
      # A run whose load tool fails is recorded as failed (summarize.py
      # counts it and leaves it out of the medians) and the rest go on.
      # shellcheck disable=SC2086 # args is a list of flags
      if ! "$OUT/load" -addr "$ADDR" -label "$kind" -poll "$POLL" -limit "$LIMIT" $args >"$dir/load.json" 2>"$dir/load.err"; then
        echo "load tool failed on $sc against $kind (run left out of the medians):" >&2; tail -n 5 "$dir/load.err" >&2
        stop_server
        jq -nc --arg sc "$sc" --arg kind "$kind" --argjson run "$run" --arg load "$load0" \
          --arg why "$(tail -n 1 "$dir/load.err")" \
          '{bench: $sc, label: $kind, run: $run, failed: ("load tool failed: " + $why), loadavg_start: $load}' >>"$RESULTS"
        continue
      fi
      read -r cpu rss < <(server_usage)
      read -r ovf1 ckf1 < <(tcp_counters)
      stop_server
      jq -c --arg sc "$sc" --argjson run "$run" --argjson cpu "$cpu" --argjson rss "$rss" \
        --argjson ovf $((ovf1 - ovf0)) --argjson ckf $((ckf1 - ckf0)) \
        --arg load0 "$load0" --arg load1 "$(cut -d' ' -f1-3 /proc/loadavg)" \
        '. + {bench: $sc, run: $run, server_cpu_s: $cpu, server_peak_rss_kb: $rss,
              listen_overflows: $ovf, syncookies_failed: $ckf, loadavg_start: $load0, loadavg_end: $load1}
         + (if $cpu == null then {failed: "the server died during the run"} else {} end)' "$dir/load.json" >>"$RESULTS"
      jq -r '"  \(.requests) requests, \(.rounds_completed)/\(.rounds_expected) rounds, \(.conn_errors_total) connection errors, \(.wall_s) s"' "$dir/load.json" >&2
    done
  done
done
/usr/bin/python3 "$ROOT/bench/coordinator/summarize.py" "$RESULTS" | tee "$OUT/summary.txt"
echo "results: $OUT" >&2
