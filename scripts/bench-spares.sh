#!/usr/bin/env bash
# Benchmarks the spares pool (as root): create-to-ACTIVE with and without spares, for
# both topologies, as medians over repeated creates (bench/spares.py).
set -euo pipefail
cd "$(dirname "$0")/.."
KRATER_SKIP_VENV=1 scripts/setup.sh
cargo build --release --locked -p krater
KRATER_BIN="$PWD/target/release/krater" python3 bench/spares.py "$@"
