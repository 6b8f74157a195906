#!/usr/bin/env bash
# API bench on a release build: list and show req/s with 100 and 10,000 load
# balancers stored, their ratio, and sequential POST creates/s (provider noop_driver).
# On SQLite, then on PostgreSQL: the server KRATER_BENCH_POSTGRES_URL names, else a
# private cluster started for the run (scripts/pg-cluster.sh; fsync off, which flatters
# writes); a database `krater_bench_<pid>` is made on it and dropped after. Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p krater
bin=target/release/krater
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

run() { # $1 = label, $2 = database URL or empty
    local dir="$work/$1" port
    mkdir -p "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    {
        printf 'data_dir = "%s"\n[api_settings]\nbind_host = "127.0.0.1"\nbind_port = %s\n' "$dir" "$port"
        printf '[controller_worker]\namphora_drivers = "noop"\n'
        [ -n "$2" ] && printf '[database]\nconnection = "%s"\n' "$2"
    } >"$dir/krater.toml"
    "$bin" --config "$dir/krater.toml" serve >"$dir/log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "== $1"
    python3 bench/api.py "http://127.0.0.1:$port"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

run sqlite ""
server=${KRATER_BENCH_POSTGRES_URL:-}
if [ -z "$server" ]; then
    pg_dir=$(mktemp -d /tmp/krater-pg.XXXXXX)
    server=$(scripts/pg-cluster.sh start "$pg_dir")
    trap 'cleanup; scripts/pg-cluster.sh stop "$pg_dir"' EXIT
fi
db="krater_bench_$$"
psql "$server" -qc "CREATE DATABASE $db"
run postgresql "$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1])._replace(path="/" + sys.argv[2]).geturl())' "$server" "$db")"
psql "$server" -qc "DROP DATABASE $db"
