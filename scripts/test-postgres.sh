#!/usr/bin/env bash
# Start a throw-away PostgreSQL for the contract tests, on loopback only, and print
# its URL. Installs Debian's package when missing (needs root). The password is
# random per run: no default secret exists anywhere.
set -euo pipefail
PORT=${TESSERA_PG_PORT:-54329}
DIR=${TESSERA_PG_DIR:-/tmp/tessera-pg}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PW=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -f "$DIR/postmaster.pid" ]; then as_pg "$BIN/pg_ctl" -D "$DIR" -m fast stop >&2 || true; fi
rm -rf "$DIR"; mkdir -p "$DIR"
PWFILE=$(mktemp)
echo "$PW" > "$PWFILE"
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR" "$PWFILE"; fi
as_pg "$BIN/initdb" -D "$DIR" -A scram-sha-256 -U postgres --pwfile="$PWFILE" >/dev/null
rm -f "$PWFILE"
as_pg "$BIN/pg_ctl" -D "$DIR" -l "$DIR/log" -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off" -w start >&2
PGPASSWORD=$PW "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE tessera_test" >&2
echo "postgresql+psycopg://postgres:$PW@127.0.0.1:$PORT/tessera_test"
