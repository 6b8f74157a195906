"""Heartbeats byte-compatible with Octavia, checked with Octavia's own code: a datagram
that Octavia's `status_message.wrap_envelope` (from the PyPI package, in the cached
virtualenv) makes is read by `krater heartbeat decode`, and one that `krater heartbeat
encode` makes is read by Octavia's `unwrap_envelope`; a datagram signed with another
key is refused by both."""
import json
import subprocess

import pytest

from conftest import KRATER_BIN, octavia_python

KEY = "shared-heartbeat-key"
MESSAGE = {
    "id": "6e3f2a10-8d3c-4c55-9a0e-0d4b1f7c2a11",
    "seq": 42,
    "ver": 3,
    "listeners": {
        "1b8a3c4e-0000-4000-8000-000000000001": {
            "status": "OPEN",
            "stats": {"tx": 1024, "rx": 2048, "conns": 3, "totconns": 17, "ereq": 1},
        },
    },
    "pools": {
        "2c9b4d5f-0000-4000-8000-000000000001:1b8a3c4e-0000-4000-8000-000000000001": {
            "status": "UP",
            "members": {"3dac5e60-0000-4000-8000-000000000001": "UP",
                        "3dac5e60-0000-4000-8000-000000000002": "DOWN 1/2"},
        },
    },
    # krater's stamps, which Octavia carries as any other key.
    "boot": "0f3c2b1a9e8d7c6b5a4f3e2d1c0b9a88",
    "sent_ms": 1796000000000,
}

OCTAVIA = """
import sys
from octavia.amphorae.backends.health_daemon import status_message
action, key = sys.argv[1], sys.argv[2]
data = sys.stdin.buffer.read()
if action == "wrap":
    hex_digest = sys.argv[3] == "hex"
    sys.stdout.buffer.write(status_message.wrap_envelope(__import__("json").loads(data), key, hex=hex_digest))
else:
    sys.stdout.write(__import__("json").dumps(status_message.unwrap_envelope(data, key)))
"""


@pytest.fixture
def krater_config(tmp_path):
    key_file = tmp_path / "heartbeat.key"
    key_file.write_text(KEY)
    key_file.chmod(0o600)
    config = tmp_path / "krater.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[health_manager]\n'
                      f'heartbeat_key_file = "{key_file}"\n')
    return config


def octavia(action, key, data, *args):
    return subprocess.run([octavia_python(), "-c", OCTAVIA, action, key, *args], input=data,
                          capture_output=True)


def krater(config, action, data):
    return subprocess.run([KRATER_BIN, "--config", str(config), "heartbeat", action],
                          input=data, capture_output=True)


@pytest.mark.parametrize("digest", ["hex", "raw"])
def test_a_heartbeat_octavia_wraps_is_read_by_krater(krater_config, digest):
    datagram = octavia("wrap", KEY, json.dumps(MESSAGE).encode(), digest)
    assert datagram.returncode == 0, datagram.stderr.decode()
    decoded = krater(krater_config, "decode", datagram.stdout)
    assert decoded.returncode == 0, decoded.stderr.decode()
    assert json.loads(decoded.stdout) == MESSAGE


def test_a_heartbeat_krater_encodes_is_read_by_octavia(krater_config):
    encoded = krater(krater_config, "encode", json.dumps(MESSAGE).encode())
    assert encoded.returncode == 0, encoded.stderr.decode()
    unwrapped = octavia("unwrap", KEY, encoded.stdout)
    assert unwrapped.returncode == 0, unwrapped.stderr.decode()
    assert json.loads(unwrapped.stdout) == MESSAGE


def test_a_heartbeat_signed_with_another_key_is_refused_by_both(krater_config):
    forged = octavia("wrap", "another-key", json.dumps(MESSAGE).encode(), "hex")
    assert forged.returncode == 0, forged.stderr.decode()
    refused = krater(krater_config, "decode", forged.stdout)
    assert refused.returncode != 0 and b"HMAC" in refused.stderr.upper(), refused.stderr
    encoded = krater(krater_config, "encode", json.dumps(MESSAGE).encode())
    assert octavia("unwrap", "another-key", encoded.stdout).returncode != 0
