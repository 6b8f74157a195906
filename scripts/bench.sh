#!/usr/bin/env bash
# Benchmarks krater (as root): create-to-ACTIVE time, and requests/s and p99 latency
# through a VIP against straight to a member, as medians over repeated runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked -p krater
KRATER_BIN="$PWD/target/release/krater" python3 bench/bench.py "$@"
