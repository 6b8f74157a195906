#!/usr/bin/env bash
# Benchmarks failover (as root): for each fault kind, medians over repeated faults of
# the time to the first answer through the VIP, the time until the load balancer has a
# healthy amphora again, and the failed requests (bench/failover.py).
set -euo pipefail
cd "$(dirname "$0")/.."
KRATER_SKIP_VENV=1 scripts/setup.sh
cargo build --release --locked -p krater
KRATER_BIN="$PWD/target/release/krater" python3 bench/failover.py "$@"
