#!/bin/sh
# examples/lxc-arm64/run.sh: run examples/lxc-arm64/job.yaml with basalt
# run, its image server being build/fixtures/lxc-images (make lxc-images)
# served over HTTPS on a free port of 127.0.0.1 for the length of the run
# (a certificate made for it, given with --lxc-image-ca), the image cache
# in OUTPUT_DIR/cache. Needs root (LXC's containers are privileged), lxc
# and qemu-user-static with its aarch64 binfmt_misc handler registered
# (basalt checks, and says what is missing).
#
# Settings (environment): BASALT [build/basalt], IMAGES
# [build/fixtures/lxc-images], OUTPUT_DIR [build/example-lxc-arm64],
# JOB_ID [1]. `make example-lxc-arm64` builds basalt and the images first.
set -eu
cd "$(dirname "$0")/../.."
basalt=${BASALT:-build/basalt}
images=${IMAGES:-build/fixtures/lxc-images}
out=${OUTPUT_DIR:-build/example-lxc-arm64}
job_id=${JOB_ID:-1}
for f in "$basalt" "$images/meta/1.0/index-system"; do
	[ -f "$f" ] || { echo "example: $f missing (make build lxc-images)" >&2; exit 2; }
done
mkdir -p "$out/server" "$out/cache"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$out/server/key.pem" -out "$out/server/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
rm -f "$out/server/port"
/usr/bin/python3 - "$images" "$out/server/cert.pem" "$out/server/key.pem" "$out/server/port" >"$out/server/log" 2>&1 <<'PY' &
import functools, http.server, ssl, sys
root, cert, key, portfile = sys.argv[1:5]
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
s = http.server.HTTPServer(("127.0.0.1", 0), h)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(cert, key)
s.socket = c.wrap_socket(s.socket, server_side=True)
open(portfile + ".tmp", "w").write(str(s.server_address[1]))
__import__("os").rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
httpd=$!
trap 'kill $httpd 2>/dev/null || true' EXIT
i=0
until [ -s "$out/server/port" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "example: the image server did not start:" >&2; cat "$out/server/log" >&2; exit 1; }
	sleep 0.1
done
"$basalt" run examples/lxc-arm64/job.yaml --device examples/lxc-arm64/device.jinja2 --output-dir "$out/job" --job-id "$job_id" \
	--lxc-image-server "127.0.0.1:$(cat "$out/server/port")" --lxc-image-ca "$out/server/cert.pem" --lxc-image-cache "$(cd "$out/cache" && pwd)"
