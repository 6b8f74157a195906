#!/usr/bin/env bash
# Installs what krater and its tests need on a fresh Debian machine (run as root):
# HAProxy, keepalived, nftables, iproute2, arping (the VIP announced after a failover)
# and PostgreSQL (for the tests on a private
# cluster, scripts/pg-cluster.sh) from the distribution, and a Python
# virtualenv (.venv) with the unmodified OpenStack clients used by the end-to-end tests,
# and a cached virtualenv with the real Octavia 19 (from PyPI) for the differential test.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in haproxy keepalived nftables conntrack iproute2 iputils-arping procps curl openssl python3-venv postgresql; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  # Tests run their own clusters (scripts/pg-cluster.sh): no system-wide one on 5432.
  if [[ " ${need_apt[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confold "${need_apt[@]}" >/dev/null
fi

# The clients' virtualenv lives outside the clone, named after the hash of the
# requirements, so that every clone on this machine shares it and changed pins make
# a new one; .venv links to it. `.complete` is written last: an interrupted install
# is redone.
if [ "${KRATER_SKIP_VENV:-0}" != 1 ]; then
  hash=$(sha256sum tests/e2e/requirements.txt | cut -c1-12)
  clients_venv="${XDG_CACHE_HOME:-$HOME/.cache}/krater/clients-venv-$hash"
  if [ ! -f "$clients_venv/.complete" ]; then
    echo "setup: creating $clients_venv with the OpenStack clients"
    rm -rf "$clients_venv"
    mkdir -p "$(dirname "$clients_venv")"
    python3 -m venv "$clients_venv"
    "$clients_venv/bin/pip" install -q --upgrade pip
    "$clients_venv/bin/pip" install -q -r tests/e2e/requirements.txt
    touch "$clients_venv/.complete"
  fi
  if [ "$(readlink .venv 2>/dev/null)" != "$clients_venv" ]; then
    rm -rf .venv
    ln -s "$clients_venv" .venv
  fi
fi

# The real Octavia for tests/differential, outside the clone so that it is built once per
# machine: its directory name carries the hash of the pinned constraints
# (scripts/octavia-venv.sh prints it), so changed pins build a new one and unchanged pins
# reuse it. `.complete` is written last, so an interrupted install is redone.
if [ "${KRATER_SKIP_OCTAVIA:-0}" != 1 ]; then
  octavia_venv=$(scripts/octavia-venv.sh)
  if [ ! -f "$octavia_venv/.complete" ]; then
    echo "setup: creating $octavia_venv with octavia==19.0.0 from PyPI"
    rm -rf "$octavia_venv"
    mkdir -p "$(dirname "$octavia_venv")"
    python3 -m venv "$octavia_venv"
    "$octavia_venv/bin/pip" install -q --upgrade pip
    "$octavia_venv/bin/pip" install -q -c tests/differential/octavia-constraints.txt 'octavia==19.0.0'
    touch "$octavia_venv/.complete"
  fi
fi
