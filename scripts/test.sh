#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine (as root): installs what is missing,
# checks formatting and lints, runs every Rust test, then the end-to-end tests that
# drive `krater serve` with the unmodified openstack CLI, in parallel. The tests that
# touch the database and the API end-to-end tests run a second time on a private
# PostgreSQL cluster started for the run (scripts/pg-cluster.sh). Prints the duration
# of every stage.
#
# Builds go to a cache shared by the clones on this machine
# (${XDG_CACHE_HOME:-~/.cache}/krater/target, linked as ./target when a clone has
# none), so a new clone rebuilds only krater's own crates.
set -euo pipefail
cd "$(dirname "$0")/.."

durations=()
stage() {  # name command...
  local name=$1 start=$SECONDS
  shift
  echo "== $name"
  "$@"
  durations+=("$(printf '%-14s %5d s' "$name" $((SECONDS - start)))")
  echo "== $name: $((SECONDS - start)) s"
}
summary() {
  echo "== stage durations"
  printf '   %s\n' "${durations[@]}"
}
pg_dir=""
finish() {
  if [ -n "$pg_dir" ]; then
    scripts/pg-cluster.sh stop "$pg_dir" || echo "test: could not stop the PostgreSQL cluster in $pg_dir"
  fi
  summary
}
trap finish EXIT

if [ ! -e target ]; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/krater/target"
  mkdir -p "$cache"
  ln -s "$cache" target
fi

stage setup scripts/setup.sh
# One PostgreSQL for the run; every test makes its own database on it.
pg_dir=$(mktemp -d /tmp/krater-pg.XXXXXX)
pg_url=$(scripts/pg-cluster.sh start "$pg_dir")
stage fmt cargo fmt --all -- --check
stage clippy cargo clippy --locked --workspace --all-targets -- -D warnings
stage build cargo build --locked --workspace --bins
stage rust-tests cargo test --locked --workspace
# The crates whose tests touch the database, again on PostgreSQL (krater_db::test_support).
stage rust-tests-pg env KRATER_TEST_POSTGRES_URL="$pg_url" \
  cargo test --locked -p krater-db -p krater-health-manager -p krater --tests
stage e2e env KRATER_BIN="$PWD/target/debug/krater" \
  .venv/bin/pytest -q -n 3 --dist loadfile tests/e2e
# Again on PostgreSQL: the end-to-end tests of the API alone (CLI and SDK workflows,
# validation errors, filters, pagination), the control plane as separate processes and
# the saga engine's crash, revert and fencing tables; the other data-plane ones exercise
# amphorae, not the database, and stay on SQLite.
stage e2e-pg env KRATER_BIN="$PWD/target/debug/krater" KRATER_E2E_POSTGRES_URL="$pg_url" \
  .venv/bin/pytest -q -n 3 --dist loadfile \
  tests/e2e/test_cli_workflow.py tests/e2e/test_cli_filters.py tests/e2e/test_sdk_pagination.py \
  tests/e2e/test_multi_process.py tests/e2e/test_saga.py
# The real Octavia 19 and krater side by side: every difference fails unless it is
# allowlisted (deliberate, README "Where krater differs from Octavia on purpose").
stage differential env KRATER_BIN="$PWD/target/debug/krater" \
  .venv/bin/pytest -q tests/differential
