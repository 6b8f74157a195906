#!/usr/bin/env bash
# A private, throwaway PostgreSQL cluster for tests and benchmarks (Debian's
# `postgresql` package):
#
#   scripts/pg-cluster.sh start DIR   # prints postgres://postgres@localhost:PORT/postgres?host=DIR
#   scripts/pg-cluster.sh stop DIR    # stops that cluster and removes DIR
#
# `start` runs initdb as the `postgres` OS user (initdb refuses root) in DIR, which it
# makes that user's own (0700); the server listens only on a Unix socket inside DIR and
# on 127.0.0.1 at a free port, trusts local connections only (socket and loopback), and
# runs without fsync: its data lives as long as the run. Autovacuum looks every second,
# so that the planner's statistics follow a table a test or bench just filled (with
# stale ones a page of 100 rows out of 10,000 is a sort of the whole table). `stop` stops exactly the
# cluster in DIR (pg_ctl on its data directory) and removes DIR, and only a DIR that
# `start` made. The URL names the socket directory (`host=`): a client reaches the server
# through it from any network namespace of the machine (the e2e tests' host namespaces
# have loopbacks of their own).
set -euo pipefail

usage() {
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
action=$1
dir=$(realpath -m "$2")
marker="$dir/.krater-pg-cluster"

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "pg-cluster: PostgreSQL is not installed (scripts/setup.sh)" >&2; exit 1; }

as_postgres() {  # command...: as the postgres user when run as root, else as the caller
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || { echo "pg-cluster: $dir is not empty" >&2; exit 1; }
  touch "$marker"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
  fi
  chmod 0700 "$dir"
  as_postgres "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  cat >"$dir/data/pg_hba.conf" <<EOF
local all all trust
host all all 127.0.0.1/32 trust
EOF
  # The port is free when chosen; another process may take it before the server binds
  # it, so a failed start tries another one.
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c max_connections=300 \
          -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
          -c autovacuum_naptime=1" \
      start >/dev/null; then
      socket_dir=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/"))' "$dir")
      echo "postgres://postgres@localhost:$port/postgres?host=$socket_dir"
      return
    fi
  done
  echo "pg-cluster: the server did not start:" >&2
  tail -n 20 "$dir/server.log" >&2
  exit 1
}

stop() {
  [ -e "$marker" ] || { echo "pg-cluster: $dir is not a cluster made by $0 start" >&2; exit 1; }
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  fi
  rm -rf "$dir"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
