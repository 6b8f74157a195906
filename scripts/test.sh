#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine (as root): installs what is missing,
# checks formatting and lints, runs every Rust test, then the end-to-end tests that
# drive `krater serve` with the unmodified openstack CLI, in parallel. Prints the
# duration of every stage.
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
  durations+=("$(printf '%-12s %5d s' "$name" $((SECONDS - start)))")
  echo "== $name: $((SECONDS - start)) s"
}
summary() {
  echo "== stage durations"
  printf '   %s\n' "${durations[@]}"
}
trap summary EXIT

if [ ! -e target ]; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/krater/target"
  mkdir -p "$cache"
  ln -s "$cache" target
fi

stage setup scripts/setup.sh
stage fmt cargo fmt --all -- --check
stage clippy cargo clippy --locked --workspace --all-targets -- -D warnings
stage build cargo build --locked --workspace --bins
stage rust-tests cargo test --locked --workspace
stage e2e env KRATER_BIN="$PWD/target/debug/krater" \
  .venv/bin/pytest -q -n 3 --dist loadfile tests/e2e
# The real Octavia 19 and krater side by side: every difference fails unless it is
# allowlisted (deliberate, README "Where krater differs from Octavia on purpose").
stage differential env KRATER_BIN="$PWD/target/debug/krater" \
  .venv/bin/pytest -q tests/differential
