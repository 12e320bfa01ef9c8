#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server (Debian's `postgresql` package) on a
# loopback port, with GATEHOUSE_TEST_POSTGRES naming it; the server and its files are gone
# afterwards. `make unit-postgres` runs the integration tests this way.
set -euo pipefail
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
# A free loopback port, unless one is given.
port=${PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
dir=$(mktemp -d)
as_postgres() {
    # initdb refuses to run as root.
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$dir"
stop() {
    as_postgres "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT
as_postgres "$pgbin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
if ! as_postgres "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null; then
    echo "tests/postgres.sh: PostgreSQL did not start; its log:" >&2
    cat "$dir/log" >&2
    exit 1
fi
# How a test stops and starts this server again (the many-nodes test takes the database away).
ctl="$pgbin/pg_ctl -D $dir/data -l $dir/log"
[ "$(id -u)" = 0 ] && ctl="runuser -u postgres -- $ctl"
GATEHOUSE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres" \
    GATEHOUSE_TEST_PG_CTL="$ctl -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200'" \
    "$@"
