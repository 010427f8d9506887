#!/bin/bash
# bench/lava/lxc-arm64.sh [RUNS]: run examples/lxc-arm64/job.yaml (an LXC
# container of a pre-built arm64 root file system, its test shell under
# qemu-user) RUNS times [3] with Debian's lava-run and with basalt run on
# the same rendered device (LAVA's lxc.jinja2) and the same image cache,
# compare their results (compare-results.py) and print the median wall
# time of each side and the ratio, with the load average.
#
# The image: `make lxc-images` (build/fixtures/lxc-images), served once
# over HTTPS on 127.0.0.1 for basalt's first run (--lxc-image-server,
# --lxc-image-ca), which fills the cache in OUT/cache; every measured run
# of both sides then makes its container from that cache
# (LXC_CACHE_PATH for lava-run, whose download template cannot be given a
# server; --lxc-image-cache for basalt). lava-run 2023.01 makes its
# containers with the host's /etc/lxc/default.conf and waits until the
# container has an IP address: it runs in a private mount namespace
# where that file is replaced by a veth with a static address and no
# bridge (the host's own file stays as it is). basalt's containers have
# no network (lxc.net.0.type = empty) and it does not wait for one.
#
# Needs root, Debian's lava-dispatcher and lava-server's device types
# (/usr/share/lava-server/device-types), lxc, qemu-user-static with its
# aarch64 binfmt handler registered, and `make build lxc-images`. Output
# in OUT [/tmp/basalt-lava-lxc-arm64]. Exit 0 when every job completed
# with the same results on both sides and left no container.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
RUNS=${1:-3}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
OUT=${OUT:-/tmp/basalt-lava-lxc-arm64}
command -v lava-run >/dev/null || { echo "lava-run is not installed (apt-get install lava-dispatcher)" >&2; exit 1; }
[ -x build/basalt ] || { echo "build/basalt missing (make build)" >&2; exit 2; }
[ -f build/fixtures/lxc-images/meta/1.0/index-system ] || { echo "build/fixtures/lxc-images missing (make lxc-images)" >&2; exit 2; }
dt=/usr/share/lava-server/device-types
[ -f $dt/lxc.jinja2 ] || { echo "LAVA's lxc.jinja2 not found in $dt" >&2; exit 2; }
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || { echo "no aarch64 binfmt handler (qemu-user-static)" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT/cache"
job=examples/lxc-arm64/job.yaml

# The image server, for the first run only.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$OUT/key.pem" -out "$OUT/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
cat >"$OUT/serve.py" <<'PY'
import functools, http.server, ssl, sys
root, cert, key, portfile = sys.argv[1:5]
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
s = http.server.HTTPServer(("127.0.0.1", 0), h)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(cert, key)
s.socket = c.wrap_socket(s.socket, server_side=True)
open(portfile, "w").write(str(s.server_address[1]))
s.serve_forever()
PY
/usr/bin/python3 "$OUT/serve.py" build/fixtures/lxc-images "$OUT/cert.pem" "$OUT/key.pem" "$OUT/port" >"$OUT/serve.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$OUT/port" ] && break; sleep 0.1; done

echo "{% extends 'lxc.jinja2' %}" >"$OUT/lxc-01.jinja2"
/usr/bin/python3 bench/lava/render-device.py "$OUT/lxc-01.jinja2" "$OUT/device.yaml" --device-types $dt >/dev/null
printf 'lxc.net.0.type = veth\nlxc.net.0.flags = up\nlxc.net.0.ipv4.address = 10.254.77.2/24\n' >"$OUT/default.conf"

left() { lxc-ls -1 | grep "^example-arm64" || true; }
base=$((700000 + $$ % 10000 * 10))
build/basalt run "$job" --device "$OUT/device.yaml" --output-dir "$OUT/warm" --job-id "$base" \
	--lxc-image-server "127.0.0.1:$(cat "$OUT/port")" --lxc-image-ca "$OUT/cert.pem" --lxc-image-cache "$OUT/cache" >"$OUT/warm.out" 2>&1 ||
	{ echo "the first basalt run (filling the cache) failed: $OUT/warm.out" >&2; exit 1; }
kill $server_pid

status=0
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
: >"$OUT/lava.times"
: >"$OUT/basalt.times"
for run in $(seq "$RUNS"); do
	id=$((base + run))
	d=$OUT/run-$run
	mkdir -p "$d"
	load=$(cut -d' ' -f1 /proc/loadavg)
	s=$(date +%s.%N)
	LXC_CACHE_PATH=$OUT/cache unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/lxc/default.conf && exec "$@"' "$OUT/default.conf" \
		lava-run --job-id "$id" --output-dir "$d/lava" --device "$OUT/device.yaml" "$job" 2>"$d/lava-run.log" >/dev/null || { echo "run $run: lava-run failed" >&2; status=1; }
	m=$(date +%s.%N)
	[ -z "$(left)" ] || { echo "run $run: lava-run left containers: $(left)" >&2; status=1; }
	build/basalt run "$job" --device "$OUT/device.yaml" --output-dir "$d/basalt" --job-id "$id" --lxc-image-cache "$OUT/cache" >"$d/basalt.out" 2>&1 || { echo "run $run: basalt failed" >&2; status=1; }
	e=$(date +%s.%N)
	[ -z "$(left)" ] || { echo "run $run: basalt left containers: $(left)" >&2; status=1; }
	awk "BEGIN { print $m - $s }" >>"$OUT/lava.times"
	awk "BEGIN { print $e - $m }" >>"$OUT/basalt.times"
	printf 'run %s (load %s): lava-run %.2f s, basalt %.2f s\n' "$run" "$load" "$(awk "BEGIN { print $m - $s }")" "$(awk "BEGIN { print $e - $m }")"
	/usr/bin/python3 bench/lava/compare-results.py "$d/lava-run.log" "$d/basalt/logs.yaml" >"$d/compare.txt" || { echo "run $run: results differ ($d/compare.txt)" >&2; status=1; }
done
l=$(median <"$OUT/lava.times")
b=$(median <"$OUT/basalt.times")
printf 'lxc-arm64: median of %s, lava-run %.2f s, basalt %.2f s, ratio %.1fx\n' "$RUNS" "$l" "$b" "$(awk "BEGIN { print $l / $b }")"
exit "$status"
