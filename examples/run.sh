#!/bin/sh
# examples/run.sh [EXAMPLE]: run an example job end to end with basalt run:
# examples/EXAMPLE/job.yaml on examples/EXAMPLE/device.jinja2 (EXAMPLE is
# qemu, the default, tuxrun, multinode, whose two roles use the same
# device, or board, an emulated U-Boot board: build/fixtures/arm64, with
# examples/board/dispatcher.yaml and basalt on PATH for its power commands).
#
# The job downloads its kernel and initramfs from http://127.0.0.1:8000/,
# so this serves the fixtures folder there for the length of the run and
# stops the server on every way out. If something on that port already
# serves the very same files (another run, a server you started), it is
# used as it is and left alone.
#
# Settings (environment): BASALT [build/basalt], FIXTURES
# [build/fixtures/x86_64], OUTPUT_DIR [build/example-output], JOB_ID [1].
# `make example` (and `make example-multinode`) build basalt and the
# fixtures first, then run this.
set -eu
cd "$(dirname "$0")/.."
example=${1:-qemu}
[ -f "examples/$example/job.yaml" ] || { echo "example: no examples/$example/job.yaml" >&2; exit 2; }
basalt=${BASALT:-build/basalt}
fixtures=${FIXTURES:-build/fixtures/x86_64}
out=${OUTPUT_DIR:-build/example-output}
job_id=${JOB_ID:-1}
port=8000 # job.yaml's image URLs name http://127.0.0.1:8000/
url=http://127.0.0.1:$port

images="vmlinuz rootfs.cpio.gz"
extra=
if [ "$example" = board ]; then
	images="Image virt.dtb rootfs.cpio.gz"
	extra="--dispatcher-config examples/board/dispatcher.yaml"
	# The folders examples/board/device.jinja2 and dispatcher.yaml name.
	mkdir -p /tmp/basalt-board/tftp
	# The board's power commands run `basalt board ...`.
	PATH=$(cd "$(dirname "$basalt")" && pwd):$PATH
	export PATH
fi
for f in "$basalt" $(for i in $images; do echo "$fixtures/$i"; done); do
	[ -f "$f" ] || { echo "example: $f missing (make build fixtures)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "example: python3 is needed to serve the images" >&2; exit 2; }

# served: whether $url serves byte for byte the fixtures' two images.
served() {
	python3 - "$url" "$fixtures" $images <<'EOF'
import sys, urllib.request
url, folder = sys.argv[1], sys.argv[2]
for name in sys.argv[3:]:
    try:
        with urllib.request.urlopen(url + "/" + name, timeout=5) as r:
            got = r.read()
    except OSError:
        sys.exit(1)
    with open(folder + "/" + name, "rb") as f:
        if got != f.read():
            sys.exit(1)
EOF
}

httpd=
log=$(mktemp "${TMPDIR:-/tmp}/basalt-example-httpd.XXXXXX")
stop() {
	if [ -n "$httpd" ]; then
		kill "$httpd" 2>/dev/null || true
		wait "$httpd" 2>/dev/null || true
		httpd=
	fi
	rm -f "$log"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if served; then
	echo "example: $url already serves $fixtures; using it"
else
	python3 -m http.server "$port" --bind 127.0.0.1 --directory "$fixtures" >"$log" 2>&1 &
	httpd=$!
	i=0
	until served; do
		if ! kill -0 "$httpd" 2>/dev/null; then
			wait "$httpd" 2>/dev/null || true
			httpd=
			echo "example: could not serve $fixtures on $url:" >&2
			tail -n 3 "$log" >&2
			exit 1
		fi
		i=$((i + 1))
		[ "$i" -lt 100 ] || { echo "example: $url does not serve $fixtures (port $port taken?)" >&2; exit 1; }
		sleep 0.1
	done
	echo "example: serving $fixtures on $url"
fi

mkdir -p "$out"
# basalt runs in the background so that a signal to this script reaches it
# at once (it cancels the job, stops QEMU and writes its results), rather
# than the shell holding the signal until basalt has finished on its own.
"$basalt" run "examples/$example/job.yaml" --device "examples/$example/device.jinja2" \
	--output-dir "$out" --job-id "$job_id" $extra &
job=$!
trap 'kill -INT "$job" 2>/dev/null || true' INT
trap 'kill -TERM "$job" 2>/dev/null || true' TERM
while :; do
	status=0
	wait "$job" || status=$?
	# A trapped signal ends the wait early; wait again until basalt is gone.
	kill -0 "$job" 2>/dev/null || break
done
echo "example: basalt run exited with $status; logs and results in $out"
exit "$status"
