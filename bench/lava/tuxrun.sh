#!/bin/sh
# bench/lava/tuxrun.sh: run examples/tuxrun/job.yaml (a job in the shape
# TuxLAVA generates for TuxRun: ext4 root file system with the LAVA
# overlay in it, test definitions from a zstd tarball, kmsg signals) with
# Debian's lava-run and with basalt run, on the same rendered device and
# the same fixtures, and compare their results (compare-results.py).
#
# Needs root (lava-run refuses otherwise), Debian's lava-dispatcher
# (libguestfs writes the overlay into the image on LAVA's side), and
# `make build fixtures`. The fixtures are served on a free port of
# 127.0.0.1 (the job's URLs are rewritten to it), and each run gets a job
# id no other lava-run on the machine uses, so several of these, or other
# bench scripts, can run at once. Output in OUT [/tmp/basalt-lava-tuxrun]:
# lava-run.log, basalt/logs.yaml, compare.txt. Exit 0 when both jobs
# completed with the same results.
set -eu
cd "$(dirname "$0")/../.."
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
# /dev/kvm hangs guests on our machines: libguestfs' appliance must use TCG.
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
OUT=${OUT:-/tmp/basalt-lava-tuxrun}
fixtures=build/fixtures/x86_64
command -v lava-run >/dev/null || { echo "lava-run is not installed (apt-get install lava-dispatcher)" >&2; exit 1; }
for f in build/basalt $fixtures/vmlinuz $fixtures/rootfs.cpio.gz $fixtures/rootfs.ext4.zst $fixtures/test-definitions.tar.zst; do
	[ -f "$f" ] || { echo "$f missing (make build fixtures)" >&2; exit 2; }
done
rm -rf "$OUT"
mkdir -p "$OUT"

# A free port, and a job id made of this shell's pid: lava-run keeps its
# files in /var/lib/lava/dispatcher/tmp/<job id>, and a job that ends
# removes that folder, whoever else uses it.
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
job_id=${JOB_ID:-$((900000 + $$))}
sed "s|http://127.0.0.1:8000/|http://127.0.0.1:$port/|g" examples/tuxrun/job.yaml >"$OUT/job.yaml"
/usr/bin/python3 bench/lava/render-device.py examples/tuxrun/device.jinja2 "$OUT/device.yaml" --job "$OUT/job.yaml" >/dev/null

httpd=
stop() { [ -z "$httpd" ] || { kill "$httpd" 2>/dev/null || true; wait "$httpd" 2>/dev/null || true; }; }
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
/usr/bin/python3 -m http.server "$port" --bind 127.0.0.1 --directory "$fixtures" >"$OUT/httpd.log" 2>&1 &
httpd=$!
i=0
until /usr/bin/python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/kernel-version', timeout=2)" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 50 ] || { echo "cannot serve $fixtures on port $port" >&2; exit 1; }
	sleep 0.2
done

status=0
start=$(date +%s.%N)
lava-run --job-id "$job_id" --output-dir "$OUT/lava" --device "$OUT/device.yaml" "$OUT/job.yaml" 2>"$OUT/lava-run.log" >/dev/null || status=1
mid=$(date +%s.%N)
build/basalt run "$OUT/job.yaml" --device "$OUT/device.yaml" --output-dir "$OUT/basalt" --job-id "$job_id" >"$OUT/basalt.out" 2>&1 || status=1
end=$(date +%s.%N)
printf 'lava-run: %s, %.1f s\n' "$(grep -h '^result:' "$OUT/lava/result.yaml" 2>/dev/null || echo 'no result.yaml')" "$(awk "BEGIN { print $mid - $start }")"
printf 'basalt:   %s, %.1f s\n' "$(tail -n 1 "$OUT/basalt.out")" "$(awk "BEGIN { print $end - $mid }")"
/usr/bin/python3 bench/lava/compare-results.py "$OUT/lava-run.log" "$OUT/basalt/logs.yaml" | tee "$OUT/compare.txt" || status=1
exit "$status"
