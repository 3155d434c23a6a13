#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on loopback for hygie's tests,
# installing Debian's package if it is missing. Prints the DSN as its last
# line: export HYGIE_TEST_POSTGRES="$(scripts/postgres.sh)".
# Idempotent: a server already answering on the port is reused.
set -euo pipefail

PORT="${HYGIE_PG_PORT:-55432}"
DIR="${HYGIE_PG_DIR:-/tmp/hygie-pg-$PORT}"
DSN="postgres://hygie@127.0.0.1:$PORT/hygie?sslmode=disable"

find_bin() {
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$b" ] && [ -x "$b/pg_ctl" ] && echo "$b"
}

BIN=$(find_bin || true)
if [ -z "$BIN" ]; then
  echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q postgresql >&2
  BIN=$(find_bin)
fi

run_as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  echo "$DSN"
  exit 0
fi

if [ ! -f "$DIR/PG_VERSION" ]; then
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
  run_as_pg "$BIN/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 >&2
fi
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$DIR"
run_as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 \
  -o "-h 127.0.0.1 -p $PORT -k /tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >&2

psql_pg() { "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname='hygie'")" != 1 ]; then
  psql_pg -c "CREATE ROLE hygie LOGIN SUPERUSER" >&2
fi
if [ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname='hygie'")" != 1 ]; then
  psql_pg -c "CREATE DATABASE hygie OWNER hygie" >&2
fi
echo "$DSN"
