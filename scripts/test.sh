#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine (as root): installs what is missing,
# checks formatting and lints, runs every Rust test, then the end-to-end tests that
# drive `krater serve` with the unmodified openstack CLI, then the differential test
# that replays the same requests on the real Octavia 19 and on krater.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo build --locked --workspace --bins
cargo test --locked --workspace
KRATER_BIN="$PWD/target/debug/krater" .venv/bin/pytest -q tests/e2e
# Every difference from Octavia fails unless it is allowlisted (deliberate, see README)
# or recorded, with the very same two answers, in known.json (not yet fixed; see
# tests/differential/FINDINGS.md). A fixed one is reported for removal from known.json.
start=$SECONDS
KRATER_BIN="$PWD/target/debug/krater" KRATER_DIFF_KNOWN=tests/differential/known.json \
  .venv/bin/pytest -q tests/differential
echo "differential test: $((SECONDS - start)) s"
