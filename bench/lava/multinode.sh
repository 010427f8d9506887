#!/bin/sh
# bench/lava/multinode.sh: Debian's lava-run, as a MultiNode pair, against
# `basalt coordinator`. The sub-jobs are examples/multinode/job.yaml split
# by `basalt multinode split`, the device is our dictionary rendered with
# LAVA's templates (render-device.py), the images are the fixtures served
# on 127.0.0.1 (port BENCH_PORT). LAVA's dispatcher reads the coordinator's address
# from /etc/lava-coordinator/lava-coordinator.conf (localhost:3079 as
# Debian ships it), so basalt's coordinator listens there: stop any
# lava-coordinator service first.
#
# Needs root (lava-run refuses otherwise), Debian's lava-dispatcher, and
# `make build fixtures`. Prints each sub-job's result; exit 0 when both
# completed. Output in OUT [/tmp/basalt-lava-multinode].
set -eu
cd "$(dirname "$0")/../.."
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
OUT=${OUT:-/tmp/basalt-lava-multinode}
command -v lava-run >/dev/null || { echo "lava-run is not installed (apt-get install lava-dispatcher)" >&2; exit 1; }
for f in build/basalt build/fixtures/x86_64/vmlinuz build/fixtures/x86_64/rootfs.cpio.gz; do
	[ -f "$f" ] || { echo "$f missing (make build fixtures)" >&2; exit 2; }
done
rm -rf "$OUT"
mkdir -p "$OUT"
# Job ids no other lava-run on the machine uses (lava-run keeps a job's
# files in /var/lib/lava/dispatcher/tmp/<id> and removes them at its
# end): this script's pid followed by 0001 and 0002, the numbering the
# other bench scripts use too (their own pid, a 4-digit counter).
SERVER_ID=$$0001
CLIENT_ID=$$0002
build/basalt multinode split examples/multinode/job.yaml --job-id "$SERVER_ID" --output-dir "$OUT"
# The images are served on a port of this script's own (BENCH_PORT, 8644
# by default), not the 8000 the example's job names, where another
# server may come and go under the run.
PORT=${BENCH_PORT:-8644}
sed -i "s|127.0.0.1:8000|127.0.0.1:$PORT|" "$OUT"/*-[0-9]*.yaml
/usr/bin/python3 bench/lava/render-device.py examples/multinode/device.jinja2 "$OUT/device.yaml" --job "$OUT/server-0.yaml" >/dev/null

pids=
stop() { for p in $pids; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory build/fixtures/x86_64 >"$OUT/httpd.log" 2>&1 &
pids="$pids $!"
build/basalt coordinator --listen 127.0.0.1:3079 >"$OUT/coordinator.log" 2>&1 &
pids="$pids $!"
sleep 1

lava-run --job-id "$SERVER_ID" --output-dir "$OUT/server" --device "$OUT/device.yaml" "$OUT/server-0.yaml" >"$OUT/server.log" 2>&1 &
server=$!
pids="$server $pids" # stopped first on a signal, before what it talks to
status=0
lava-run --job-id "$CLIENT_ID" --output-dir "$OUT/client" --device "$OUT/device.yaml" "$OUT/client-0.yaml" >"$OUT/client.log" 2>&1 || status=1
wait "$server" || status=1
for r in server client; do
	printf '%s: ' "$r"
	grep -h '^result:' "$OUT/$r/result.yaml" 2>/dev/null || echo "no result"
done
exit "$status"
