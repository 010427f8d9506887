#!/bin/bash
# bench/lava/qemu-nfs.sh [RUNS]: run examples/qemu-nfs/job.yaml (the
# fixtures' kernel and initramfs under QEMU, the root over NFS: deploy to
# nfs, boot qemu-nfs) RUNS times [3] with Debian's lava-run and with basalt
# run on the same rendered device (LAVA's qemu.jinja2, the example's
# dictionary), compare their results (compare-results.py) and print the
# median wall time of each side and the ratio, with the load average.
#
# lava-run 2023.01 leaves the export to the host: it unpacks the root
# under /var/lib/lava/dispatcher/tmp and expects the host's nfsd to export
# that folder with rpcbind. This kernel has no nfsd, so the script stands
# one in for the length of the runs: rpcbind (when none runs) and a
# ganesha.nfsd exporting /var/lib/lava/dispatcher/tmp on the standard
# ports, bound to the address lava-run gives the guest (the host's on its
# default route), both stopped at the end. basalt needs neither: each job
# starts its own ganesha (internal/nfsserver) and talks to no rpcbind.
#
# Needs root, Debian's lava-dispatcher, nfs-ganesha and nfs-ganesha-vfs,
# rpcbind, and `make build fixtures`. Output in OUT [/tmp/basalt-lava-nfs].
# Exit 0 when every job completed with the same results on both sides
# and no ganesha of basalt's was left.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
OUT=${OUT:-/tmp/basalt-lava-nfs}
command -v lava-run >/dev/null || { echo "lava-run is not installed (apt-get install lava-dispatcher)" >&2; exit 1; }
command -v ganesha.nfsd >/dev/null || { echo "nfs-ganesha is not installed" >&2; exit 1; }
command -v rpcbind >/dev/null || { echo "rpcbind is not installed" >&2; exit 1; }
[ -x build/basalt ] || { echo "build/basalt missing (make build)" >&2; exit 2; }
fx=build/fixtures/x86_64
[ -f $fx/nfsrootfs.tar.gz ] || { echo "$fx/nfsrootfs.tar.gz missing (make fixtures)" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT/recovery"
ip=$(ip -4 route get 192.0.2.1 | awk '{ for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1) }')
[ -n "$ip" ] || { echo "no address on a default route" >&2; exit 2; }

pids=()
started_rpcbind=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -z "$started_rpcbind" ] || kill "$(cat "$OUT/rpcbind.pid")" 2>/dev/null || true
}
trap cleanup EXIT

# The fixtures over HTTP on a free port; the job names that port.
cat >"$OUT/serve.py" <<'PY'
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.HTTPServer(("127.0.0.1", 0), h)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
/usr/bin/python3 "$OUT/serve.py" $fx "$OUT/port" >"$OUT/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$OUT/port" ] && break; sleep 0.1; done
sed "s#http://127.0.0.1:8000/#http://127.0.0.1:$(cat "$OUT/port")/#" examples/qemu-nfs/job.yaml >"$OUT/job.yaml"
/usr/bin/python3 bench/lava/render-device.py examples/qemu-nfs/device.jinja2 "$OUT/device.yaml" --job "$OUT/job.yaml" >/dev/null

# lava-run's NFS server.
if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
	rpcbind -w
	pgrep -xn rpcbind >"$OUT/rpcbind.pid"
	started_rpcbind=1
fi
mkdir -p /var/lib/lava/dispatcher/tmp
cat >"$OUT/ganesha.conf" <<EOF
NFS_CORE_PARAM { NFS_Port = 2049; MNT_Port = 20048; Bind_addr = $ip; Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; Protocols = 3, 4; }
NFSv4 { Graceless = true; RecoveryBackend = fs; RecoveryRoot = "$OUT/recovery"; }
EXPORT_DEFAULTS { Access_Type = None; }
EXPORT { Export_Id = 1; Path = "/var/lib/lava/dispatcher/tmp"; Pseudo = "/var/lib/lava/dispatcher/tmp"; Access_Type = RW; Squash = No_Root_Squash; Protocols = 3, 4; Transports = TCP; SecType = sys; FSAL { Name = VFS; } }
EOF
ganesha.nfsd -F -f "$OUT/ganesha.conf" -L "$OUT/ganesha.log" -p "$OUT/ganesha.pid" &
pids+=($!)
for _ in $(seq 100); do rpcinfo -p 127.0.0.1 2>/dev/null | grep -q mountd && break; sleep 0.1; done

status=0
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
: >"$OUT/lava.times"
: >"$OUT/basalt.times"
base=$((800000 + $$ % 10000 * 10))
for run in $(seq "$RUNS"); do
	id=$((base + run))
	d=$OUT/run-$run
	mkdir -p "$d"
	load=$(cut -d' ' -f1 /proc/loadavg)
	s=$(date +%s.%N)
	lava-run --job-id "$id" --output-dir "$d/lava" --device "$OUT/device.yaml" "$OUT/job.yaml" 2>"$d/lava-run.log" >/dev/null ||
		{ echo "run $run: lava-run failed" >&2; status=1; }
	m=$(date +%s.%N)
	build/basalt run "$OUT/job.yaml" --device examples/qemu-nfs/device.jinja2 --output-dir "$d/basalt" --tmp-dir "$d/tmp" \
		--job-id "$id" >"$d/basalt.out" 2>&1 || { echo "run $run: basalt failed" >&2; status=1; }
	e=$(date +%s.%N)
	if pgrep -f "ganesha.nfsd.*$d/tmp" >/dev/null; then echo "run $run: basalt left its NFS server" >&2; status=1; fi
	awk "BEGIN { print $m - $s }" >>"$OUT/lava.times"
	awk "BEGIN { print $e - $m }" >>"$OUT/basalt.times"
	printf 'run %s (load %s): lava-run %.2f s, basalt %.2f s\n' "$run" "$load" "$(awk "BEGIN { print $m - $s }")" "$(awk "BEGIN { print $e - $m }")"
	/usr/bin/python3 bench/lava/compare-results.py "$d/lava-run.log" "$d/basalt/logs.yaml" >"$d/compare.txt" ||
		{ echo "run $run: results differ ($d/compare.txt)" >&2; status=1; }
done
l=$(median <"$OUT/lava.times")
b=$(median <"$OUT/basalt.times")
printf 'qemu-nfs: median of %s, lava-run %.2f s, basalt %.2f s, ratio %.1fx\n' "$RUNS" "$l" "$b" "$(awk "BEGIN { print $l / $b }")"
exit "$status"
