# Shared by the bench/server scripts (sourced, not run). It builds
# build/basalt, starts one `basalt server` (and `basalt worker`s) on free
# ports of 127.0.0.1 in a fresh data folder, and stops exactly the
# processes it started, by PID, on every way out.
#
# Environment read: DB (empty: SQLite in the data folder; "postgres": a
# private PostgreSQL from scripts/with-postgres.sh, see with_db; or a
# postgres:// URL), BENCH_OUT (output folder).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Debian's python3 (xmlrpc.client is in any Python, but lavacli and the
# anchor's tools are Debian's) and Go.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin:$HOME/go/bin:$PATH
PY=/usr/bin/python3

# bench_init NAME: the output folder, the binary.
bench_init() {
  OUT=${BENCH_OUT:-$ROOT/build/bench/server/$1-$(date -u +%Y%m%dT%H%M%S)}
  mkdir -p "$OUT"
  make -C "$ROOT" --no-print-directory build >/dev/null
  BASALT=$ROOT/build/basalt
  "$BASALT" server --help >/dev/null 2>&1 || "$BASALT" help server >/dev/null 2>&1 || {
    echo "build/basalt has no server command yet (basalt server lands with the lab's branch)" >&2
    exit 1
  }
  echo "output: $OUT" >&2
}

PIDS=()
stop_all() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  PIDS=()
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

free_port() {
  $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_line FILE TEXT PID: until FILE holds TEXT (the server's or a
# worker's "ready" line), or PID died, or 60 s passed.
wait_line() {
  local i
  for i in $(seq 600); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "process $3 died; its output:" >&2; tail -20 "$1" >&2; return 1; }
    sleep 0.1
  done
  echo "no '$2' in $1 after 60 s" >&2
  return 1
}

# manage ARGS...: basalt manage on the bench's database.
manage() {
  "$BASALT" manage --db "$DSN" "$@"
}

# new_lab DIR: a fresh data folder and database (DSN), a superuser
# "bench" and its token (TOKEN), the device type qemu.
new_lab() {
  DATA=$1
  mkdir -p "$DATA"
  if [ -z "${BASALT_POSTGRES_DSN:-}" ]; then
    DSN=$DATA/basalt.db
  else
    DSN=$BASALT_POSTGRES_DSN
  fi
  manage users add bench --superuser --passwd bench-password >/dev/null
  TOKEN=$(manage tokens add --user bench | tail -1)
  manage device-types add qemu >/dev/null
}

# start_server [ARGS...]: basalt server on a free port over DATA and DSN;
# sets SERVER_PID, ADDR, URL, RPC (the XML-RPC URI with the token).
start_server() {
  ADDR=127.0.0.1:$(free_port)
  URL=http://$ADDR
  RPC=http://bench:$TOKEN@$ADDR/RPC2
  "$BASALT" server --db "$DSN" --data-dir "$DATA" --listen "$ADDR" --coordinator off "$@" \
    >"$DATA/server.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_line "$DATA/server.log" "basalt server: listening on" "$SERVER_PID"
}

# start_worker NAME [ARGS...]: basalt worker NAME (its token made with
# manage workers add earlier, in $DATA/NAME.token); sets WORKER_PID.
start_worker() {
  local name=$1
  shift
  "$BASALT" worker --url "$URL" --name "$name" --token-file "$DATA/$name.token" \
    --work-dir "$DATA/worker-$name" "$@" >"$DATA/worker-$name.log" 2>&1 &
  WORKER_PID=$!
  PIDS+=("$WORKER_PID")
  wait_line "$DATA/worker-$name.log" "basalt worker $name: connected to" "$WORKER_PID"
}

# add_worker NAME: the worker's record and token file.
add_worker() {
  manage workers add "$1" | tail -1 >"$DATA/$1.token"
}

# rss_kib PID: the process's resident set now and its peak (VmRSS VmHWM).
rss_kib() {
  awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print r, h}' "/proc/$1/status"
}

loadavg() {
  cut -d' ' -f1-3 /proc/loadavg
}

# median: the median of the numbers on stdin, one a line.
median() {
  sort -g | awk '{a[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# pss_kib PID...: the sum of the processes' proportional set sizes.
pss_kib() {
  local p sum=0 v
  for p in "$@"; do
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# pg_pids: the PostgreSQL server of BASALT_POSTGRES_DSN (found by its
# port, so another cluster on the machine is not counted) and its
# children; nothing without that DSN.
pg_pids() {
  [ -n "${BASALT_POSTGRES_DSN:-}" ] || return 0
  local port pm
  port=$(sed -E 's#.*@[^:/]+:([0-9]+)/.*#\1#' <<<"$BASALT_POSTGRES_DSN")
  pm=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  [ -n "$pm" ] || return 0
  echo "$pm"
  ps -o pid= --ppid "$pm"
}

# cpu_s PID: the process's CPU time so far (user + system), in seconds.
cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
