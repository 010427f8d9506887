#!/bin/sh
# examples/lab/run.sh: a LAVA lab on this machine, driven with lavacli
# (examples/lab/README.md; `make example-lab` builds basalt and the
# fixtures, then runs this).
#
# It serves the fixtures over HTTP on 127.0.0.1, starts `basalt server`
# (SQLite in the lab folder), adds with `basalt manage` an admin user and
# token, a worker and its token, the qemu device type and two QEMU devices
# (examples/lab/qemu0[12].jinja2) on that worker, starts `basalt worker`,
# writes a lavacli identity into a private XDG_CONFIG_HOME in the lab
# folder (never ~/.config), then runs Debian's lavacli: system version,
# devices list, jobs submit (examples/qemu/job.yaml with its image URLs
# pointed at the fixtures' server), jobs wait, jobs logs, results.
#
# Every port is chosen by the system (no clash with `make example` on
# 8000, nor with a lab of your own). The processes it started, and only
# those, are stopped by PID however the script ends. The lab folder is
# emptied at the start of each run (only if this script made it) and kept
# at the end.
#
# Then it reads the job back over REST v0.2 (as a CI system would) and
# names its web page. With KEEP=1 the lab stays up after the job, to be
# browsed (log in as admin with the password printed), until Ctrl-C.
#
# Settings (environment): BASALT [build/basalt], FIXTURES
# [build/fixtures/x86_64], LAB_DIR [build/example-lab], LAVACLI [lavacli],
# KEEP [unset].
# Exit status: 0 when the job ended Complete.
set -eu
cd "$(dirname "$0")/../.."
basalt=${BASALT:-build/basalt}
fixtures=${FIXTURES:-build/fixtures/x86_64}
lab=${LAB_DIR:-build/example-lab}
lavacli=${LAVACLI:-lavacli}

say() { echo "example-lab: $*"; }
die() { echo "example-lab: $*" >&2; exit 1; }

for f in "$basalt" "$fixtures/vmlinuz" "$fixtures/rootfs.cpio.gz"; do
	[ -f "$f" ] || die "$f missing (make build fixtures)"
done
command -v python3 >/dev/null || die "python3 is needed to serve the images"
command -v "$lavacli" >/dev/null || die "$lavacli not found (make deps installs Debian's lavacli)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (make deps installs it)"

case $lab in
/*) ;;
*) lab=$PWD/$lab ;;
esac
case $basalt in
/*) ;;
*) basalt=$PWD/$basalt ;;
esac
# Emptied only if this script made it (its mark), never a folder of yours.
if [ -e "$lab" ] && [ ! -f "$lab/.example-lab" ] && [ -n "$(ls -A "$lab" 2>/dev/null)" ]; then
	die "$lab exists and was not made by this script: remove it or set LAB_DIR to another folder"
fi
rm -rf "$lab"
mkdir -p "$lab/config"
chmod 700 "$lab"
: >"$lab/.example-lab"

# The processes this script started, stopped last started first: a
# lavacli, the worker (SIGTERM cancels and reports a job still running,
# so the server must still be there), the server, the file server.
httpd= server= worker= client=
stop_one() { # NAME PID
	kill -TERM "$2" 2>/dev/null || return 0
	i=0
	while kill -0 "$2" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 400 ]; then
			echo "example-lab: $1 ($2) still running 40 s after SIGTERM: SIGKILL" >&2
			kill -KILL "$2" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	wait "$2" 2>/dev/null || true
}
stop() {
	status=$?
	trap - EXIT INT TERM
	[ -z "$client" ] || stop_one lavacli "$client"
	[ -z "$worker" ] || stop_one "basalt worker" "$worker"
	[ -z "$server" ] || stop_one "basalt server" "$server"
	[ -z "$httpd" ] || stop_one "the file server" "$httpd"
	client= worker= server= httpd=
	say "stopped what it started; the lab's data is in $lab"
	exit "$status"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The lab's processes run in sessions of their own (setsid), so that a
# Ctrl-C reaches only this script (and lavacli): the trap then stops the
# worker first, which reports its job's end to the server before the
# server stops. (Started in the background by a shell without job
# control, none is a process group leader, so setsid execs in place and
# $! is the process itself; through a shell function it would not be.)
detach=
command -v setsid >/dev/null && detach=setsid

# wait_for FILE TEXT PID WHAT: until FILE holds TEXT, while PID lives.
wait_for() {
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		if ! kill -0 "$3" 2>/dev/null; then
			echo "example-lab: $4 exited:" >&2
			tail -n 20 "$1" >&2
			exit 1
		fi
		i=$((i + 1))
		if [ "$i" -gt 600 ]; then
			echo "example-lab: $4 did not start within 60 s:" >&2
			tail -n 20 "$1" >&2
			exit 1
		fi
		sleep 0.1
	done
}

# The fixtures, over HTTP on a port of the system's choosing, through a
# link in the lab's folder: every process of the lab names that folder.
case $fixtures in
/*) ln -s "$fixtures" "$lab/fixtures" ;;
*) ln -s "$PWD/$fixtures" "$lab/fixtures" ;;
esac
$detach python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$lab/fixtures" >"$lab/httpd.log" 2>&1 &
httpd=$!
wait_for "$lab/httpd.log" "Serving HTTP on" "$httpd" "the file server"
images=$(sed -n 's/.*Serving HTTP on .* port \([0-9][0-9]*\).*/http:\/\/127.0.0.1:\1/p' "$lab/httpd.log" | head -n 1)
[ -n "$images" ] || die "could not read the file server's port from $lab/httpd.log"
say "serving $fixtures on $images"

# The lab: the database, with what `lava-server manage` would add.
db=$lab/basalt.db
manage() { "$basalt" manage --db "$db" "$@"; }
# A password for the web pages' login, new at each run (the lab is
# reachable on 127.0.0.1 only).
password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
manage users add admin --superuser --passwd "$password" >/dev/null
token=$(manage tokens add --user admin)
manage workers add worker01 --description "the example lab's worker" >"$lab/worker01.token"
chmod 600 "$lab/worker01.token"
manage device-types add qemu >/dev/null
for d in qemu01 qemu02; do
	manage devices add "$d" --device-type qemu --worker worker01 --dictionary "examples/lab/$d.jinja2" >/dev/null
done
say "basalt manage: user admin (superuser) and its token, worker worker01, device type qemu, devices qemu01 and qemu02"

$detach "$basalt" server --db "$db" --data-dir "$lab/data" --listen 127.0.0.1:0 --coordinator 127.0.0.1:0 >"$lab/server.log" 2>&1 &
server=$!
wait_for "$lab/server.log" "basalt server: listening on http://" "$server" "basalt server"
url=$(sed -n 's/.*basalt server: listening on \(http:[^ ]*\).*/\1/p' "$lab/server.log" | head -n 1)
say "basalt server listening on $url (log: $lab/server.log)"

$detach "$basalt" worker --url "$url" --name worker01 --token-file "$lab/worker01.token" \
	--work-dir "$lab/worker01" >"$lab/worker01.log" 2>&1 &
worker=$!
wait_for "$lab/worker01.log" "basalt worker worker01: connected to" "$worker" "basalt worker"
say "basalt worker worker01 connected (log: $lab/worker01.log)"

# lavacli's identity, in a configuration folder of the lab's own.
umask 077
cat >"$lab/config/lavacli.yaml" <<EOF
example-lab:
  uri: $url/RPC2
  username: admin
  token: $token
EOF
umask 022
# lava ARGS: lavacli with that identity, the command shown first on the
# script's standard output (descriptor 3) even when lavacli's output is
# captured. lavacli runs in the background so that a signal to this
# script is handled at once, not when lavacli ends (jobs wait lasts as
# long as the job).
exec 3>&1
lava() {
	echo "\$ lavacli $*" >&3
	XDG_CONFIG_HOME=$lab/config "$lavacli" -i example-lab "$@" &
	client=$!
	st=0
	wait "$client" || st=$?
	client=
	[ "$st" = 0 ] || echo "example-lab: lavacli $1 $2 failed (exit status $st)" >&2
	return "$st"
}

# The job: examples/qemu/job.yaml, its images fetched from the server above.
sed "s|url: http://127.0.0.1:8000/|url: $images/|" examples/qemu/job.yaml >"$lab/job.yaml"
[ "$(grep -c "url: $images/" "$lab/job.yaml")" = 2 ] || die "examples/qemu/job.yaml no longer names its 2 images at http://127.0.0.1:8000/"

echo
say "below, lavacli means: XDG_CONFIG_HOME=$lab/config lavacli -i example-lab"
lava system version
lava devices list
id=$(lava jobs submit "$lab/job.yaml")
echo "$id"
case $id in
'' | *[!0-9]*) die "lavacli jobs submit printed '$id', not a job id" ;;
esac
lava jobs wait "$id" --polling 1
lava jobs show "$id" >"$lab/job-$id.show"
cat "$lab/job-$id.show"
lava jobs logs "$id" --no-follow >"$lab/job-$id.log"
echo "... (the last 8 of $(wc -l <"$lab/job-$id.log") lines; all of them in $lab/job-$id.log)"
tail -n 8 "$lab/job-$id.log"
lava results "$id" >"$lab/job-$id.results"
# The test definitions' results; the lava suite (one result per pipeline
# action) only counted.
grep -v '^\* lava\.' "$lab/job-$id.results"
echo "... and $(grep -c '^\* lava\.' "$lab/job-$id.results") results of the lava suite (all in $lab/job-$id.results)"

# The summary.
# (lavacli prints "Health", a capital among small letters.)
field() { sed -n "s/^$1 *: *//Ip" "$lab/job-$id.show" | head -n 1; }
health=$(field health)
device=$(field device)
count() { grep -v '^\* lava\.' "$lab/job-$id.results" | grep -c "\[$1\]" || true; }
echo
say "job $id ran on $device: $health; its test cases: $(count pass) pass, $(count fail) fail, $(count skip) skip"
say "its log: $lab/data/jobs/$id/logs.yaml (the server's copy)"

# The same job over REST v0.2, as KernelCI reads it, and its page.
rest=$(python3 - "$url" "$token" "$id" <<'PY'
import json, sys, urllib.request
url, token, job = sys.argv[1:]
req = urllib.request.Request(f"{url}/api/v0.2/jobs/{job}/?format=json", headers={"Authorization": "Token " + token})
j = json.load(urllib.request.urlopen(req, timeout=30))
print(f"GET /api/v0.2/jobs/{job}/: state {j['state']}, health {j['health']}, device {j['actual_device']}")
PY
) || die "REST v0.2 did not answer for job $id"
say "$rest"
say "its page: $url/scheduler/job/$id (results: $url/results/$id)"
if [ -n "${KEEP:-}" ]; then
	say "KEEP=1: the lab stays up at $url (log in as admin, password $password); Ctrl-C stops it"
	trap 'k=0; [ "$health" = Complete ] || k=1; exit $k' INT TERM
	while :; do sleep 1; done
fi
[ "$health" = Complete ]
