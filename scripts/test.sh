#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine (as root): installs what is missing,
# checks formatting and lints, runs every Rust test, then the end-to-end tests that
# drive `krater serve` with the unmodified openstack CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo build --locked --workspace --bins
cargo test --locked --workspace
KRATER_BIN="$PWD/target/debug/krater" .venv/bin/pytest -q tests/e2e
