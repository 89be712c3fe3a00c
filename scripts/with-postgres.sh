#!/usr/bin/env bash
# Run a command beside a throwaway PostgreSQL server: initdb in a temporary folder, listen on a
# unix socket there (no TCP port to collide with), export TEST_POSTGRES_URL (its admin
# database; the tests create and drop a database of their own per test), run the command, then
# stop the server and delete the folder, whatever the command's outcome.
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
set -euo pipefail

bin=${PG_BIN:-$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)}
if [ ! -x "$bin/postgres" ]; then
    echo "PostgreSQL is not installed (scripts/system-deps.sh installs Debian's)." >&2
    exit 1
fi

# postgres refuses to run as root: as root, the cluster belongs to the postgres user.
as_owner() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
    as_owner() { runuser -u postgres -- "$@"; }
fi

dir=$(mktemp -d /tmp/pg.XXXXXX)
cleanup() {
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"

as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$dir/initdb.log" || { cat "$dir/initdb.log" >&2; exit 1; }
# A test server: durability is not the point, speed is.
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start -o \
    "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off \
     -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }

export TEST_POSTGRES_URL="postgresql+psycopg://postgres@/postgres?host=$dir"
"$@"
