#!/usr/bin/env bash
# Times `basalt validate` against Debian's `lava-run --validate` on the
# same QEMU job and device (../shared/anchor), several runs each, and
# prints the median wall time, CPU and peak memory of each and their
# ratios, with the machine's load average before and after.
#
#   bench/validate-vs-lava.sh [RUNS]     (default 7)
#
# wall: around /usr/bin/time (so about a millisecond of its start-up is
# in every figure); CPU: user + system of the command and everything it
# started (/usr/bin/time's %U + %S, which count every reaped
# descendant); peak memory: /usr/bin/time's %M, the peak resident memory
# of the largest single process (the dispatcher itself: validating starts
# no helper worth counting). A run that fails is left out of the medians,
# counted and shown.
#
# Needs Debian's lava-dispatcher (apt-get install lava-dispatcher
# python3-jinja2); the images are served on 127.0.0.1 (port BENCH_PORT,
# 8643 by default; the job is copied with that port) because lava-run
# checks every URL while validating.
set -euo pipefail
RUNS=${1:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ANCHOR=$ROOT/../shared/anchor
[ -d "$ANCHOR" ] || { echo "bench: $ANCHOR not found (needs ../shared beside the repository)"; exit 2; }
command -v lava-run >/dev/null || { echo "bench: lava-run not installed (apt-get install lava-dispatcher)"; exit 2; }
# LAVA needs Debian's python, not a pyenv one earlier on PATH.
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

W=$(mktemp -d)
cleanup() { [ -n "${HTTPD:-}" ] && kill "$HTTPD" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

(cd "$ROOT" && go build -trimpath -o "$W/basalt" ./cmd/basalt)
mkdir -p "$W/www" "$W/dt"
head -c 1048576 /dev/urandom > "$W/www/vmlinuz"
head -c 1048576 /dev/urandom > "$W/www/initramfs.cpio.gz"
cp "$ANCHOR"/device-types-2023.01/*.jinja2 "$W/dt/"
cp "$ANCHOR/qemu01.jinja2" "$W/qemu01.jinja2"
# The same device for both: rendered once by Python Jinja2, as LAVA's server would.
/usr/bin/python3 - "$W" <<'PY'
import sys, jinja2
w = sys.argv[1]
env = jinja2.Environment(loader=jinja2.FileSystemLoader([w, w + "/dt"]), autoescape=False, trim_blocks=True)
open(w + "/device.yaml", "w").write(env.get_template("qemu01.jinja2").render())
PY
PORT=${BENCH_PORT:-8643}
if curl -sfo /dev/null "http://127.0.0.1:$PORT/"; then
	echo "bench: port $PORT is taken: set BENCH_PORT" >&2; exit 2
fi
(cd "$W/www" && exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1 >/dev/null 2>&1) &
HTTPD=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/vmlinuz" 2>/dev/null && break; sleep 0.1; done
JOB=$W/job.yaml
sed "s|127.0.0.1:8000|127.0.0.1:$PORT|" "$ANCHOR/job.yaml" >"$JOB"

# Job ids no other lava-run on the machine uses (lava-run keeps a job's
# files in /var/lib/lava/dispatcher/tmp/<id>): this script's pid and a
# counter.
JOBS=0
next_id() {
	while :; do
		JOBS=$((JOBS + 1))
		JOB_ID=$$$(printf %04d "$JOBS")
		[ -e "/var/lib/lava/dispatcher/tmp/$JOB_ID" ] || break
	done
}
measure() { # label, command...: appends "wall_s peak_kb cpu_s" to $W/res-label, or counts a failure
	local label=$1; shift
	local t0=$EPOCHREALTIME
	if /usr/bin/time -f "%M %U %S" -o "$W/t" "$@" >"$W/out" 2>&1; then
		local t1=$EPOCHREALTIME
		echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') $(tail -1 "$W/t" | awk '{ printf "%d %.2f", $1, $2 + $3 }')" >> "$W/res-$label"
	else
		echo "bench: $label run failed (left out of the medians):" >&2
		tail -5 "$W/out" >&2
		echo x >> "$W/fail-$label"
	fi
}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$RUNS"); do
	next_id
	measure lava lava-run --validate --job-id "$JOB_ID" --output-dir "$W/lava-$i" --device "$W/device.yaml" "$JOB"
	measure basalt "$W/basalt" validate "$JOB" --device "$W/device.yaml" --output-dir "$W/basalt-$i" --quiet
	measure basalt-dict "$W/basalt" validate "$JOB" --device "$W/qemu01.jinja2" --device-types "$W/dt" --output-dir "$W/basalt-dict-$i" --quiet
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A WALL MEM CPU OK FAIL
for l in lava basalt basalt-dict; do
	touch "$W/res-$l" "$W/fail-$l"
	WALL[$l]=$(cut -d" " -f1 "$W/res-$l" | median)
	MEM[$l]=$(cut -d" " -f2 "$W/res-$l" | median)
	CPU[$l]=$(cut -d" " -f3 "$W/res-$l" | median)
	OK[$l]=$(wc -l <"$W/res-$l")
	FAIL[$l]=$(wc -l <"$W/fail-$l")
done
echo "machine: $(nproc) CPUs; load average before: $LOAD0; after: $LOAD1"
printf '%-34s %9s %9s %14s %10s\n' "validate, $RUNS runs each (median)" "wall s" "CPU s" "peak RSS KiB" "ok/failed"
printf '%-34s %9s %9s %14s %10s\n' "lava-run --validate" "${WALL[lava]}" "${CPU[lava]}" "${MEM[lava]}" "${OK[lava]}/${FAIL[lava]}"
printf '%-34s %9s %9s %14s %10s\n' "basalt validate (device.yaml)" "${WALL[basalt]}" "${CPU[basalt]}" "${MEM[basalt]}" "${OK[basalt]}/${FAIL[basalt]}"
printf '%-34s %9s %9s %14s %10s\n' "basalt validate (dictionary)" "${WALL[basalt-dict]}" "${CPU[basalt-dict]}" "${MEM[basalt-dict]}" "${OK[basalt-dict]}/${FAIL[basalt-dict]}"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.1f", a / b }'; }
echo
echo "lava-run / basalt, same device.yaml: wall ${WALL[lava]}/${WALL[basalt]} = $(ratio "${WALL[lava]}" "${WALL[basalt]}")x, peak memory ${MEM[lava]}/${MEM[basalt]} KiB = $(ratio "${MEM[lava]}" "${MEM[basalt]}")x"
echo "lava-run / basalt rendering the dictionary too: wall $(ratio "${WALL[lava]}" "${WALL[basalt-dict]}")x, peak memory ${MEM[lava]}/${MEM[basalt-dict]} KiB = $(ratio "${MEM[lava]}" "${MEM[basalt-dict]}")x"
echo "(wall is measured around /usr/bin/time, so each figure includes about a millisecond of its start-up; CPU is in 10 ms ticks)"
