#!/usr/bin/env bash
# Benchmarks krater (as root): create-to-ACTIVE time; requests/s and p50/p99 latency
# through a VIP, straight to a member and through a hand-written HAProxy on the same
# members; the time from a member's POST to it serving; medians over repeated runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked -p krater
KRATER_BIN="$PWD/target/release/krater" python3 bench/bench.py "$@"
