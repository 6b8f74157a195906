#!/usr/bin/env bash
# Sets up a fresh machine and runs `krater serve` with the embedded defaults:
# SQLite in /var/lib/krater, the API on 127.0.0.1:9876, noauth.
set -euo pipefail
cd "$(dirname "$0")/.."
KRATER_SKIP_VENV=1 scripts/setup.sh
cargo build --release --locked -p krater
exec target/release/krater serve "$@"
