#!/usr/bin/env bash
# Benchmarks failover (as root), SINGLE and ACTIVE_STANDBY: per fault kind, medians
# over repeated faults of the time to the first answer through the VIP, the time until
# redundancy is restored, the failed requests and (ACTIVE_STANDBY) the VIP's downtime
# (bench/failover.py; `--topology SINGLE` for one, `--rounds N`).
set -euo pipefail
cd "$(dirname "$0")/.."
KRATER_SKIP_VENV=1 scripts/setup.sh
cargo build --release --locked -p krater
KRATER_BIN="$PWD/target/release/krater" python3 bench/failover.py "$@"
