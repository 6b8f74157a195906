#!/usr/bin/env python3
"""Regenerates the golden heartbeat datagrams used by tests/golden.rs.

Follows Octavia's health_daemon/status_message.py wrap_envelope: the JSON
(json.dumps, as oslo jsonutils.dumps produces it) is zlib-compressed at level 9
and HMAC-SHA256(key UTF-8, compressed) is appended, as lowercase hex
(octavia_v3_hex.bin) or as the 32 raw digest bytes (octavia_v3_raw.bin).
Run from this directory: python3 gen_golden.py
"""
import hashlib
import hmac
import json
import zlib

KEY = "insecure-heartbeat-key"
MESSAGE = {
    "id": "6e3f2a10-8d3c-4c55-9a0e-0d4b1f7c2a11",
    "seq": 42,
    "ver": 3,
    "listeners": {
        "1b8a3c4e-0000-4000-8000-000000000001": {
            "status": "OPEN",
            "stats": {"tx": 1024, "rx": 2048, "conns": 3,
                      "totconns": 17, "ereq": 1},
        },
        "1b8a3c4e-0000-4000-8000-000000000002": {
            "status": "FULL",
            "stats": {"tx": 0, "rx": 0, "conns": 50000,
                      "totconns": 0, "ereq": 0},
        },
    },
    "pools": {
        "2c9b4d5f-0000-4000-8000-000000000001:"
        "1b8a3c4e-0000-4000-8000-000000000001": {
            "status": "UP",
            "members": {
                "3dac5e60-0000-4000-8000-000000000001": "UP",
                "3dac5e60-0000-4000-8000-000000000002": "DOWN 1/2",
                "3dac5e60-0000-4000-8000-000000000003": "DRAIN",
                "3dac5e60-0000-4000-8000-000000000004": "MAINT",
                "3dac5e60-0000-4000-8000-000000000005": "no check",
                "3dac5e60-0000-4000-8000-000000000006": "UP 1/3",
            },
        },
        "2c9b4d5f-0000-4000-8000-000000000002": {
            "status": "DOWN",
            "members": {},
        },
    },
}


def wrap(obj, key, hex_digest):
    payload = zlib.compress(json.dumps(obj).encode("utf-8"), 9)
    mac = hmac.new(key.encode("utf-8"), payload, hashlib.sha256)
    return payload + (mac.hexdigest().encode("utf-8") if hex_digest
                      else mac.digest())


if __name__ == "__main__":
    with open("octavia_v3.json", "w") as f:
        f.write(json.dumps(MESSAGE))
    with open("octavia_v3_hex.bin", "wb") as f:
        f.write(wrap(MESSAGE, KEY, True))
    with open("octavia_v3_raw.bin", "wb") as f:
        f.write(wrap(MESSAGE, KEY, False))
