#!/usr/bin/env bash
# Times `basalt validate` against Debian's `lava-run --validate` on the
# same QEMU job and device (../shared/anchor), several runs each, and
# prints the median wall time and peak memory of each and their ratios.
#
#   bench/validate-vs-lava.sh [RUNS]     (default 7)
#
# Needs Debian's lava-dispatcher (apt-get install lava-dispatcher
# python3-jinja2); the images are served on 127.0.0.1 because lava-run
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
(cd "$W/www" && exec /usr/bin/python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1) &
HTTPD=$!
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:8000/vmlinuz 2>/dev/null && break; sleep 0.1; done

JOB=$ANCHOR/job.yaml
measure() { # label, command...: appends "wall_s peak_kb" to $W/res-label
	local label=$1; shift
	local t0=$EPOCHREALTIME
	/usr/bin/time -f "%M" -o "$W/t" "$@" >"$W/out" 2>&1 || { echo "bench: $label failed:"; tail -5 "$W/out"; exit 1; }
	local t1=$EPOCHREALTIME
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') $(tail -1 "$W/t")" >> "$W/res-$label"
}
for i in $(seq "$RUNS"); do
	measure lava lava-run --validate --job-id "$i" --output-dir "$W/lava-$i" --device "$W/device.yaml" "$JOB"
	measure basalt "$W/basalt" validate "$JOB" --device "$W/device.yaml" --output-dir "$W/basalt-$i" --quiet
	measure basalt-dict "$W/basalt" validate "$JOB" --device "$W/qemu01.jinja2" --device-types "$W/dt" --output-dir "$W/basalt-dict-$i" --quiet
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A WALL MEM
for l in lava basalt basalt-dict; do
	WALL[$l]=$(cut -d" " -f1 "$W/res-$l" | median)
	MEM[$l]=$(cut -d" " -f2 "$W/res-$l" | median)
done
printf '%-34s %12s %14s\n' "validate, $RUNS runs each (median)" "wall s" "peak RSS KiB"
printf '%-34s %12s %14s\n' "lava-run --validate" "${WALL[lava]}" "${MEM[lava]}"
printf '%-34s %12s %14s\n' "basalt validate (device.yaml)" "${WALL[basalt]}" "${MEM[basalt]}"
printf '%-34s %12s %14s\n' "basalt validate (dictionary)" "${WALL[basalt-dict]}" "${MEM[basalt-dict]}"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.1f", a / b }'; }
echo
echo "lava-run / basalt, same device.yaml: wall ${WALL[lava]}/${WALL[basalt]} = $(ratio "${WALL[lava]}" "${WALL[basalt]}")x, peak memory $(ratio "${MEM[lava]}" "${MEM[basalt]}")x"
echo "lava-run / basalt rendering the dictionary too: wall $(ratio "${WALL[lava]}" "${WALL[basalt-dict]}")x, peak memory $(ratio "${MEM[lava]}" "${MEM[basalt-dict]}")x"
echo "(wall is measured around /usr/bin/time, so each figure includes about a millisecond of its start-up)"
