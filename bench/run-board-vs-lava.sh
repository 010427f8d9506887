#!/bin/bash
# Run the U-Boot board example (examples/board/job.yaml on the emulated
# arm64 board, device type qemu-uboot-arm64) with basalt run and with
# Debian's lava-run, alternately, RUNS times each, under bench/measure,
# and print each run's wall time, the dispatcher's own CPU, its side's
# CPU (dispatcher and helpers: telnet, basalt board, mkimage...) and the
# guest's QEMU CPU, then the medians and the ratios basalt/lava.
#
#   bench/run-board-vs-lava.sh [RUNS]          (default 3)
#
# Both dispatchers get the same device configuration: the dictionary
# rendered by basalt (its data is LAVA's, internal/device checks it
# against LAVA's own renderings), with the board's TFTP root at lava-run's
# (TFTP_DIRECTORY of /etc/default/tftpd-hpa) and one difference, for
# lava-run: its connection command retries telnet until the board is
# powered (sh -c 'until telnet ...'). LAVA connects once, before the power
# cycle, and expects the serial server (ser2net) to be there already;
# the emulated board's serial port comes and goes with its QEMU, which
# basalt's reconnecting console handles itself.
#
# Needs root, lava-dispatcher, tftpd-hpa's /etc/default/tftpd-hpa (lava-run
# reads its TFTP_DIRECTORY and checks for in.tftpd), and make
# fixtures-arm64. Results go to build/bench/board-<time>/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-3}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin:$PATH
command -v lava-run >/dev/null || { echo "lava-run is not installed (apt-get install lava-dispatcher)" >&2; exit 1; }
TFTP=$(sed -n 's/^TFTP_DIRECTORY="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/default/tftpd-hpa 2>/dev/null)
[ -n "$TFTP" ] && [ -d "$TFTP" ] || { echo "no TFTP_DIRECTORY in /etc/default/tftpd-hpa (apt-get install tftpd-hpa)" >&2; exit 1; }
make -C "$ROOT" --no-print-directory fixtures-arm64 build >/dev/null
OUT=$ROOT/build/bench/board-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$OUT/state"
go build -o "$OUT/measure" "$ROOT/bench/measure"
BASALT=$ROOT/build/basalt
PORT=${BENCH_PORT:-8644}
SERIAL=${BENCH_SERIAL_PORT:-7141}
(cd "$ROOT/build/fixtures/arm64" && exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1 >"$OUT/httpd.log" 2>&1) &
HTTPD=$!
trap 'kill $HTTPD 2>/dev/null || true; "$BASALT" board power-off --state "$OUT/state" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 50); do
  curl -sfo /dev/null "http://127.0.0.1:$PORT/virt.dtb" && break
  sleep 0.1
done
sed "s|127.0.0.1:8000|127.0.0.1:$PORT|" "$ROOT/examples/board/job.yaml" >"$OUT/job.yaml"
board() { # extra set line
  cat <<EOD
{% extends 'qemu-uboot-arm64.jinja2' %}
{% set board_state_dir = '$OUT/state' %}
{% set board_serial_port = $SERIAL %}
{% set tftp_root = '$TFTP' %}
{% set basalt_command = '$BASALT' %}
$1
EOD
}
board "" >"$OUT/board.jinja2"
board "{% set connection_command = \"sh -c 'until telnet 127.0.0.1 $SERIAL; do sleep 0.2; done'\" %}" >"$OUT/board-lava.jinja2"
"$BASALT" device render "$OUT/board-lava.jinja2" >"$OUT/lava-device.yaml"
printf 'dispatcher_ip: 10.0.2.2\ntftp_root: %s\n' "$TFTP" >"$OUT/dispatcher.yaml"
id=7400
for i in $(seq "$RUNS"); do
  for tool in basalt lava; do
    id=$((id + 1))
    d=$OUT/$tool-$i
    mkdir -p "$d"
    if [ $tool = basalt ]; then
      "$OUT/measure" -guest '(^|/)qemu-system-aarch64$' "$d/measure.json" -- "$BASALT" run "$OUT/job.yaml" \
        --device "$OUT/board.jinja2" --dispatcher-config "$OUT/dispatcher.yaml" --output-dir "$d" --job-id $id --quiet >"$d/stdout" 2>&1 || true
    else
      "$OUT/measure" -guest '(^|/)qemu-system-aarch64$' "$d/measure.json" -- lava-run --job-id $id --output-dir "$d" \
        --device "$OUT/lava-device.yaml" --dispatcher "$OUT/dispatcher.yaml" "$OUT/job.yaml" >"$d/stdout" 2>"$d/stderr" || true
    fi
  done
done
/usr/bin/python3 - "$OUT" "$RUNS" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
med = {}
for tool in ("basalt", "lava"):
    rows = []
    for i in range(1, runs + 1):
        m = json.load(open(f"{out}/{tool}-{i}/measure.json"))
        print(f"{tool}-{i}: rc {m['rc']}, wall {m['wall_s']:.2f} s, dispatcher CPU {m['dispatcher_cpu_s']:.2f} s, side CPU {m['side_cpu_s']:.2f} s, guest QEMU CPU {m['guest_qemu_cpu_s']:.2f} s, side peak {m['side_peak_pss_kb']/1024:.0f} MB, load {m['loadavg_start']}")
        if m["rc"] == 0:
            rows.append(m)
    med[tool] = {k: statistics.median(r[k] for r in rows) for k in ("wall_s", "dispatcher_cpu_s", "side_cpu_s", "side_peak_pss_kb")} if rows else None
for tool, m in med.items():
    if m:
        print(f"{tool} median of passing runs: wall {m['wall_s']:.2f} s, dispatcher CPU {m['dispatcher_cpu_s']:.2f} s, side CPU {m['side_cpu_s']:.2f} s, side peak {m['side_peak_pss_kb']/1024:.0f} MB")
if med["basalt"] and med["lava"]:
    b, l = med["basalt"], med["lava"]
    print(f"ratios basalt/lava: wall {b['wall_s']/l['wall_s']:.2f}, dispatcher CPU {b['dispatcher_cpu_s']/l['dispatcher_cpu_s']:.2f}, side CPU {b['side_cpu_s']/l['side_cpu_s']:.2f}, side peak memory {b['side_peak_pss_kb']/l['side_peak_pss_kb']:.2f}")
PY
