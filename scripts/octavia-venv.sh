#!/usr/bin/env bash
# Prints the path of the cached virtualenv with the real Octavia used by
# tests/differential (made by scripts/setup.sh): one per constraints file content.
set -euo pipefail
cd "$(dirname "$0")/.."
hash=$(sha256sum tests/differential/octavia-constraints.txt | cut -c1-12)
echo "${XDG_CACHE_HOME:-$HOME/.cache}/krater/octavia-venv-$hash"
