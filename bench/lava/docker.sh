#!/bin/bash
# bench/lava/docker.sh [RUNS]: run the docker jobs of bench/jobs
# (docker-device.yaml: a docker device; docker-test.yaml: the same and a
# docker test action) RUNS times [3] each with Debian's lava-run and with
# basalt run, on the same rendered device and the same private docker
# daemon, compare their results (compare-results.py) and print the
# median wall time of each side and the ratio, with the load average.
#
# Needs root, Debian's lava-dispatcher, docker.io and busybox-static, and
# `make build`. Everything is made here and removed at the end: a dockerd
# of its own (its data root, exec root, pid file and socket in OUT, no
# iptables, no bridge: the containers have no network), and the image
# basalt-bench/rootfs:1 imported from a root file system of busybox and
# bash (no registry is reachable). Both dispatchers reach the daemon
# through DOCKER_HOST (the device sets no docker_remote: with one, LAVA
# 2023.01 mounts the overlay over NFS). Output in OUT
# [/tmp/basalt-lava-docker]. Exit 0 when every job completed with the
# same results on both sides.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
RUNS=${1:-3}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
OUT=${OUT:-/tmp/basalt-lava-docker}
command -v lava-run >/dev/null || { echo "lava-run is not installed (apt-get install lava-dispatcher)" >&2; exit 1; }
command -v dockerd >/dev/null || { echo "dockerd is not installed (apt-get install docker.io)" >&2; exit 1; }
[ -x build/basalt ] || { echo "build/basalt missing (make build)" >&2; exit 2; }
corpus=$(dirname "$repo")/shared/lava-corpus/device-types/docker.jinja2
[ -f "$corpus" ] || { echo "LAVA's docker.jinja2 not found at $corpus" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT"
# The daemon's folder is short: containerd puts unix sockets below it.
dd=$(mktemp -d /tmp/bdkb.XXXX)
export DOCKER_HOST=unix://$dd/docker.sock
dockerd_pid=
stop() {
	if [ -n "$dockerd_pid" ]; then
		left=$(docker ps --all --quiet 2>/dev/null || true)
		[ -z "$left" ] || { echo "containers left behind: $left" >&2; docker rm --force $left >/dev/null 2>&1 || true; }
		kill "$dockerd_pid" 2>/dev/null || true
		wait "$dockerd_pid" 2>/dev/null || true
		# dockerd's containerd goes a moment after it.
		for _ in $(seq 100); do
			pgrep -f "$dd" >/dev/null || break
			sleep 0.1
		done
	fi
	{ grep -o " $dd[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
	rm -rf "$dd"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo '{}' >"$dd/daemon.json"
dockerd --config-file "$dd/daemon.json" --data-root "$dd/data" --exec-root "$dd/x" --pidfile "$dd/dockerd.pid" \
	--host "$DOCKER_HOST" --containerd-namespace bench --containerd-plugins-namespace bench-plugins \
	--iptables=false --ip6tables=false --ip-masq=false --bridge=none --storage-driver=vfs --log-level=warn \
	>"$OUT/dockerd.log" 2>&1 &
dockerd_pid=$!
i=0
until docker version >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -lt 300 ] || { echo "dockerd did not start:" >&2; tail "$OUT/dockerd.log" >&2; exit 1; }
	sleep 0.2
done

# The image: busybox (its applets as links), bash and its libraries.
root=$OUT/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/proc" "$root/sys" "$root/dev"
cp "$(command -v busybox)" "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
	case $a in busybox | bash | */*) ;; *) ln -s busybox "$root/bin/$a" ;; esac
done
cp "$(command -v bash)" "$root/bin/bash"
for lib in $(ldd "$(command -v bash)" | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
echo 'root:x:0:0:root:/root:/bin/bash' >"$root/etc/passwd"
echo "PS1='root@\\h:\\w# '" >"$root/root/.bashrc"
tar -C "$root" -c . | docker import --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' - basalt-bench/rootfs:1 >/dev/null

# The device: LAVA's docker.jinja2 over LAVA 2023.01's base.jinja2.
mkdir -p "$OUT/device-types"
cp "$corpus" "$OUT/device-types/"
echo "{% extends 'docker.jinja2' %}" >"$OUT/docker-01.jinja2"
/usr/bin/python3 bench/lava/render-device.py "$OUT/docker-01.jinja2" "$OUT/device.yaml" --device-types "$OUT/device-types" >/dev/null

status=0
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for job in docker-device docker-test; do
	: >"$OUT/$job.lava.times"
	: >"$OUT/$job.basalt.times"
	for run in $(seq "$RUNS"); do
		id=$((800000 + $$ % 10000 * 10 + run))
		d=$OUT/$job-$run
		mkdir -p "$d"
		load=$(cut -d' ' -f1 /proc/loadavg)
		s=$(date +%s.%N)
		lava-run --job-id "$id" --output-dir "$d/lava" --device "$OUT/device.yaml" "bench/jobs/$job.yaml" 2>"$d/lava-run.log" >/dev/null || { echo "$job run $run: lava-run failed" >&2; status=1; }
		m=$(date +%s.%N)
		build/basalt run "bench/jobs/$job.yaml" --device "$OUT/device.yaml" --output-dir "$d/basalt" --job-id "$id" >"$d/basalt.out" 2>&1 || { echo "$job run $run: basalt failed" >&2; status=1; }
		e=$(date +%s.%N)
		awk "BEGIN { print $m - $s }" >>"$OUT/$job.lava.times"
		awk "BEGIN { print $e - $m }" >>"$OUT/$job.basalt.times"
		printf '%s run %s (load %s): lava-run %.2f s, basalt %.2f s\n' "$job" "$run" "$load" "$(awk "BEGIN { print $m - $s }")" "$(awk "BEGIN { print $e - $m }")"
		/usr/bin/python3 bench/lava/compare-results.py "$d/lava-run.log" "$d/basalt/logs.yaml" >"$d/compare.txt" || { echo "$job run $run: results differ ($d/compare.txt)" >&2; status=1; }
		left=$(docker ps --all --quiet)
		[ -z "$left" ] || { echo "$job run $run: containers left: $left" >&2; status=1; }
	done
	l=$(median <"$OUT/$job.lava.times")
	b=$(median <"$OUT/$job.basalt.times")
	printf '%s: median of %s, lava-run %.2f s, basalt %.2f s, ratio %.1fx\n' "$job" "$RUNS" "$l" "$b" "$(awk "BEGIN { print $l / $b }")"
done
exit "$status"
