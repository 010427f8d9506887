#!/bin/bash
# Run the same jobs on the same fixtures with Debian's lava-run and with
# basalt run, several times each, and report medians over the runs that
# succeeded (failed runs are left out, counted and named) and ratios:
#   - wall time, and the dispatcher's overhead: wall time minus the boot
#     and test blocks as the dispatcher's own log times them (from the
#     start of the boot block to the end of the test block), i.e. its
#     time outside them: starting, downloads, building the overlay,
#     finishing. The guest's uptime at the end of its test is shown
#     beside it for reference, not subtracted;
#   - console throughput: 50 MB printed by a test, against QEMU alone
#     writing the same console to a file (bench/serialalone);
#   - the cost of each side (bench/measure): the dispatcher process, its
#     helpers (every other process it starts: lava-run's libguestfs
#     appliance QEMU, basalt's mkfs.ext2...) and the two together (CPU,
#     and peak memory: the largest sum of their proportional set sizes at
#     one moment); the guest's QEMU is reported apart.
# The machine's load average is recorded around every run and printed.
#
#   bench/run-vs-lava.sh [RUNS] [smoke|throughput|serial|all]      (default: 3 smoke)
# (serial: only QEMU alone printing the 50 MB; BENCH_OUT=DIR adds to an
# earlier run's folder.)
#
# Needs root (lava-run refuses otherwise) and Debian's lava-dispatcher:
#   apt-get install lava-dispatcher python3-jinja2 python3-yaml
# Results go to build/bench/<time>/ (one folder per run with measure.json
# and the logs, summary.txt).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-3}
WHAT=${2:-smoke}
# A pyenv python3 may come first on PATH: LAVA needs Debian's.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin:$PATH
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
command -v lava-run >/dev/null || { echo "lava-run is not installed (apt-get install lava-dispatcher)" >&2; exit 1; }

make -C "$ROOT" --no-print-directory fixtures build >/dev/null
OUT=${BENCH_OUT:-$ROOT/build/bench/$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$OUT"
go build -o "$OUT/measure" "$ROOT/bench/measure"
go build -o "$OUT/serialalone" "$ROOT/bench/serialalone"
BASALT=$ROOT/build/basalt
DEVICE=$ROOT/examples/qemu/device.jinja2

# The images are served on a port of the benchmark's own (the jobs say
# 8000, as the example does; they are copied with this port), so that no
# other server on 8000 can come and go under a run.
PORT=${BENCH_PORT:-8642}
if curl -sfo /dev/null "http://127.0.0.1:$PORT/"; then
  echo "port $PORT is taken: set BENCH_PORT" >&2; exit 1
fi
(cd "$ROOT/build/fixtures/x86_64" && exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1 >"$OUT/httpd.log" 2>&1) &
HTTPD=$!
trap 'kill $HTTPD 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -sfo /dev/null "http://127.0.0.1:$PORT/vmlinuz" && break
  sleep 0.1
done
for j in smoke throughput; do
  sed "s|127.0.0.1:8000|127.0.0.1:$PORT|" "$ROOT/bench/jobs/$j.yaml" >"$OUT/$j.yaml"
done

# Every run gets a job id of its own that no other lava-run on the
# machine uses: lava-run keeps a job's files in
# /var/lib/lava/dispatcher/tmp/<id> and removes them when the job ends,
# so two jobs with one id break each other. The id is this script's pid
# (unique among the live processes) and a run counter: PID0001, PID0002...
JOBS=0
next_id() {
  local id
  while :; do
    JOBS=$((JOBS + 1))
    id=$$$(printf %04d "$JOBS")
    [ -e "/var/lib/lava/dispatcher/tmp/$id" ] || break
  done
  JOB_ID=$id
}

# One run of one job by one dispatcher: measure.json and the log. A run
# that fails is kept (summarize.py leaves it out of the medians and says
# why).
run_one() { # tool job run
  local tool=$1 job=$2 i=$3 name
  name=$(basename "$job" .yaml)-$tool-$i
  rm -rf "$OUT/$name"; mkdir -p "$OUT/$name"
  next_id
  case $tool in
  basalt)
    "$OUT/measure" "$OUT/$name/measure.json" -- "$BASALT" run "$job" --device "$DEVICE" \
      --output-dir "$OUT/$name" --job-id "$JOB_ID" --quiet >"$OUT/$name/stdout" 2>&1 || true
    ;;
  lava)
    /usr/bin/python3 "$ROOT/bench/lava/render-device.py" "$DEVICE" "$OUT/lava-device.yaml" --job "$job" >/dev/null
    "$OUT/measure" "$OUT/$name/measure.json" -- lava-run --job-id "$JOB_ID" --output-dir "$OUT/$name" \
      --device "$OUT/lava-device.yaml" "$job" >"$OUT/$name/stdout" 2>"$OUT/$name/stderr" || true
    ;;
  esac
  if [ -f "$OUT/$name/measure.json" ]; then
    /usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print("%s: job id %s, rc %d, wall %.1f s, side CPU %.2f s (dispatcher %.2f), side peak %.0f MB (Pss), guest CPU %.1f s, load %s" % (sys.argv[2], sys.argv[3], m["rc"], m["wall_s"], m["side_cpu_s"], m["dispatcher_cpu_s"], m["side_peak_pss_kb"]/1024, m["guest_qemu_cpu_s"], m["loadavg_start"]))' \
      "$OUT/$name/measure.json" "$name" "$JOB_ID" >&2
  else
    echo "$name: job id $JOB_ID: no measure.json" >&2
  fi
}

serial_alone() { # run
  local i=$1 cmd fix=$ROOT/build/fixtures/x86_64
  # The same QEMU command line basalt used (any of its runs: smoke and
  # throughput boot alike), on the fixtures, without the overlay drive.
  if ! ls "$OUT"/*-basalt-*/logs.yaml >/dev/null 2>&1; then
    run_one basalt "$OUT/smoke.yaml" 0
  fi
  cmd=$(grep -ho '"Boot command: [^"]*"' "$OUT"/*-basalt-*/logs.yaml | head -1 |
    sed -e 's/^"Boot command: //' -e 's/"$//' -e 's/ -drive format=raw,file=[^ ]*lava-guest[^ ]*//' \
      -e "s| -kernel [^ ]*| -kernel $fix/vmlinuz|" -e "s| -initrd [^ ]*| -initrd $fix/rootfs.cpio.gz|")
  # shellcheck disable=SC2086
  "$OUT/serialalone" -bytes 50000000 -out "$OUT/serial-$i.txt" -- $cmd >"$OUT/serial-$i.json"
  rm -f "$OUT/serial-$i.txt"
  echo "serial-alone-$i: $(cat "$OUT/serial-$i.json")" >&2
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)" | tee -a "$OUT/load.txt" >&2
for i in $(seq "$RUNS"); do
  if [ "$WHAT" = smoke ] || [ "$WHAT" = all ]; then
    run_one basalt "$OUT/smoke.yaml" "$i"
    run_one lava "$OUT/smoke.yaml" "$i"
  fi
  if [ "$WHAT" = serial ]; then
    serial_alone "$i"
  fi
  if [ "$WHAT" = throughput ] || [ "$WHAT" = all ]; then
    run_one basalt "$OUT/throughput.yaml" "$i"
    run_one lava "$OUT/throughput.yaml" "$i"
    serial_alone "$i"
  fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt" >&2
/usr/bin/python3 "$ROOT/bench/summarize.py" "$OUT" | tee "$OUT/summary.txt"
