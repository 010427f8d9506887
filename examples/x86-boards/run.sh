#!/bin/sh
# examples/x86-boards/run.sh [grub|grub-efi|uefi|ipxe|all]: run the emulated x86_64
# board jobs (all by default) with basalt run, the way `make
# example-x86-boards` does. The dictionaries and dispatcher.yaml name
# /tmp/basalt-x86-boards: its tftp folder is the TFTP root QEMU serves
# (grubx64.efi is copied there for the GRUB board), the board folders are
# the power switch's. basalt is put first on PATH for the power commands.
# The jobs' images come from http://127.0.0.1:8000/, served from the
# fixtures for the length of the run.
#
# Settings (environment): BASALT [build/basalt], FIXTURES
# [build/fixtures/x86_64], OUTPUT_DIR [build/example-x86-boards].
set -eu
cd "$(dirname "$0")/../.."
basalt=${BASALT:-build/basalt}
fixtures=${FIXTURES:-build/fixtures/x86_64}
out=${OUTPUT_DIR:-build/example-x86-boards}
boards=${1:-all}
[ "$boards" = all ] && boards="grub grub-efi uefi ipxe"
for f in "$basalt" "$fixtures/vmlinuz" "$fixtures/rootfs.cpio.gz" "$fixtures/boards/grubx64.efi"; do
	[ -f "$f" ] || { echo "example: $f missing (make build fixtures)" >&2; exit 2; }
done
mkdir -p /tmp/basalt-x86-boards/tftp
cp "$fixtures/boards/grubx64.efi" /tmp/basalt-x86-boards/tftp/
PATH=$(cd "$(dirname "$basalt")" && pwd):$PATH
export PATH

python3 -m http.server 8000 --bind 127.0.0.1 --directory "$fixtures" >/dev/null 2>&1 &
httpd=$!
trap 'kill $httpd 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
i=0
until python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8000/vmlinuz", timeout=2).read(1)' 2>/dev/null; do
	kill -0 $httpd 2>/dev/null || { echo "example: could not serve $fixtures on 127.0.0.1:8000 (port taken?)" >&2; exit 1; }
	i=$((i + 1))
	[ "$i" -lt 100 ] || { echo "example: 127.0.0.1:8000 does not answer" >&2; exit 1; }
	sleep 0.1
done

status=0
for b in $boards; do
	[ -f "examples/x86-boards/job-$b.yaml" ] || { echo "example: no board $b (grub, grub-efi, uefi, ipxe)" >&2; exit 2; }
	echo "example: the $b board"
	"$basalt" run "examples/x86-boards/job-$b.yaml" --device "examples/x86-boards/$b.jinja2" \
		--dispatcher-config examples/x86-boards/dispatcher.yaml --output-dir "$out/$b" || status=$?
done
echo "example: logs and results in $out"
exit $status
