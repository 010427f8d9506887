#!/bin/sh
# with-postgres.sh COMMAND [ARG]...
#
# Runs COMMAND with BASALT_POSTGRES_DSN pointing at a PostgreSQL server of
# its own: a new cluster in a temporary folder (initdb, trust
# authentication, listening on 127.0.0.1 only, on a free port), stopped
# and removed however COMMAND ends. The store tests (internal/store/postgres)
# run against it; without PostgreSQL's server programs installed
# (Debian's postgresql package) COMMAND runs alone and those tests skip.
# As root the server runs as the postgres user, as PostgreSQL requires.
set -eu
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	echo "with-postgres: PostgreSQL's server programs are not installed: the PostgreSQL store tests will skip" >&2
	exec "$@"
fi
dir=$(mktemp -d /tmp/basalt-pg.XXXXXX)
as=""
if [ "$(id -u)" = 0 ]; then
	chown postgres "$dir"
	as="runuser -u postgres --"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() {
	$as "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM
$as "$bindir/initdb" -D "$dir/data" -A trust -U basalt -E UTF8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
$as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
	-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
export BASALT_POSTGRES_DSN="postgres://basalt@127.0.0.1:$port/postgres?sslmode=disable"
# Where PostgreSQL's server programs are, for a test that needs a cluster
# of its own to stop and start (internal/labe2e restarts PostgreSQL under
# a running basalt server: doing that to this shared cluster would break
# the tests of other packages running at the same time).
export BASALT_POSTGRES_BINDIR="$bindir"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port for the store tests" >&2
status=0
"$@" || status=$?
exit $status
