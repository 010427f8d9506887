#!/bin/bash
# bench/lava/uboot-nfs.sh [RUNS]: the arm64 U-Boot board with its root
# over NFS (the board example's job with an nfsrootfs and u-boot's "nfs"
# commands, as internal/e2e's TestNFSRootUBoot) under basalt run and
# Debian's lava-run, alternately, RUNS times each [3], under bench/measure;
# prints each run and the medians and ratios basalt/lava.
#
# The board set-up is bench/run-board-vs-lava.sh's (the same rendered
# device, lava-run's connection command retrying telnet until the board
# is powered). lava-run leaves the export to the host's nfsd, which this
# kernel lacks: the script stands one in for the length of the runs,
# rpcbind (when none runs) and a ganesha.nfsd exporting
# /var/lib/lava/dispatcher/tmp on 127.0.0.1 (the board reaches it as
# 10.0.2.2, lava-run's {NFS_SERVER_IP}), both stopped at the end. basalt
# starts its own per job and uses no rpcbind.
#
# Needs root, lava-dispatcher, tftpd-hpa's /etc/default/tftpd-hpa,
# nfs-ganesha, rpcbind, make fixtures-arm64. Output: build/bench/uboot-nfs-<time>/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-3}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin:$PATH
for c in lava-run ganesha.nfsd rpcbind; do
	command -v $c >/dev/null || { echo "$c is not installed" >&2; exit 1; }
done
TFTP=$(sed -n 's/^TFTP_DIRECTORY="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/default/tftpd-hpa 2>/dev/null)
[ -n "$TFTP" ] && [ -d "$TFTP" ] || { echo "no TFTP_DIRECTORY in /etc/default/tftpd-hpa (apt-get install tftpd-hpa)" >&2; exit 1; }
make -C "$ROOT" --no-print-directory fixtures-arm64 build >/dev/null
OUT=$ROOT/build/bench/uboot-nfs-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$OUT/state" "$OUT/recovery"
go build -o "$OUT/measure" "$ROOT/bench/measure"
BASALT=$ROOT/build/basalt
PORT=${BENCH_PORT:-8645}
SERIAL=${BENCH_SERIAL_PORT:-7142}
pids=()
started_rpcbind=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -z "$started_rpcbind" ] || kill "$(cat "$OUT/rpcbind.pid")" 2>/dev/null || true
	"$BASALT" board power-off --state "$OUT/state" >/dev/null 2>&1 || true
}
trap cleanup EXIT
(cd "$ROOT/build/fixtures/arm64" && exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1 >"$OUT/httpd.log" 2>&1) &
pids+=($!)
for _ in $(seq 50); do curl -sfo /dev/null "http://127.0.0.1:$PORT/virt.dtb" && break; sleep 0.1; done
sed -e "s|@URL@|http://127.0.0.1:$PORT|" -e 's|      url: \(.*\)/rootfs.cpio.gz|      url: \1/rootfs.cpio.gz\n      compression: gz|' \
	"$ROOT/internal/e2e/testdata/nfs-uboot-job.yaml" >"$OUT/job.yaml"
board() {
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

# lava-run's NFS server.
if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
	rpcbind -w
	pgrep -xn rpcbind >"$OUT/rpcbind.pid"
	started_rpcbind=1
fi
mkdir -p /var/lib/lava/dispatcher/tmp
cat >"$OUT/ganesha.conf" <<EOF
NFS_CORE_PARAM { NFS_Port = 2049; MNT_Port = 20048; Bind_addr = 127.0.0.1; Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; Protocols = 3, 4; }
NFSv4 { Graceless = true; RecoveryBackend = fs; RecoveryRoot = "$OUT/recovery"; }
EXPORT_DEFAULTS { Access_Type = None; }
EXPORT { Export_Id = 1; Path = "/var/lib/lava/dispatcher/tmp"; Pseudo = "/var/lib/lava/dispatcher/tmp"; Access_Type = RW; Squash = No_Root_Squash; Protocols = 3, 4; Transports = TCP; SecType = sys; FSAL { Name = VFS; } }
EOF
ganesha.nfsd -F -f "$OUT/ganesha.conf" -L "$OUT/ganesha.log" -p "$OUT/ganesha.pid" &
pids+=($!)
for _ in $(seq 100); do rpcinfo -p 127.0.0.1 2>/dev/null | grep -q mountd && break; sleep 0.1; done

id=$((7600 + $$ % 100 * 10))
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
