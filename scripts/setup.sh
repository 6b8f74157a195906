#!/usr/bin/env bash
# Installs what krater and its tests need on a fresh Debian machine (run as root):
# HAProxy, keepalived, nftables and iproute2 from the distribution, and a Python
# virtualenv (.venv) with the unmodified OpenStack clients used by the end-to-end tests.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in haproxy keepalived nftables iproute2 procps curl python3-venv; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ "${KRATER_SKIP_VENV:-0}" != 1 ]; then
  if [ ! -x .venv/bin/openstack ] || [ ! -x .venv/bin/pytest ]; then
    echo "setup: creating .venv with the OpenStack clients"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r tests/e2e/requirements.txt
  fi
fi
