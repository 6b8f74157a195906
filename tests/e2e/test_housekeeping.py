"""Housekeeping with real amphorae: every amphora's server certificate is replaced
before it expires, under load, without a failover and without a failed request; the
controller keeps talking to the agent with the new one."""
import subprocess
import time

import pytest

from conftest import started_dataplane
from test_dataplane import answers, build, wait_until
from test_failover import Load


@pytest.fixture
def rotating_dataplane(tmp_path):
    """Certificates valid for 20 s, replaced when less than 15 s are left: one
    rotation every 5 s or so, looked for every second."""
    yield from started_dataplane(tmp_path, sections=(
        "[certificates]\ncert_validity_time = 20\n"
        "[house_keeping]\ncert_interval = 1\ncert_expiry_buffer = 15\n"))


def served_fingerprint(dataplane, amphora):
    """The fingerprint of the certificate the amphora's agent presents now (read from
    the handshake, which needs no client certificate to show it)."""
    address = f"{amphora['lb_network_ip']}:9443"
    shown = dataplane.run.exec("openssl", "s_client", "-connect", address, "-servername",
                               amphora["id"], input="", capture_output=True, text=True)
    fingerprint = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"],
                                 input=shown.stdout, capture_output=True, text=True)
    assert fingerprint.returncode == 0, shown.stdout + shown.stderr
    return fingerprint.stdout.strip()


def test_certificates_are_rotated_under_load_with_no_failed_request(rotating_dataplane):
    dataplane = rotating_dataplane
    os_ = dataplane.openstack
    vip, _ = build(dataplane)
    (listed,) = os_("loadbalancer", "amphora", "list", "-f", "json")
    amphora = os_("loadbalancer", "amphora", "show", listed["id"], "-f", "json")
    with Load(dataplane, vip) as load:
        started = time.time()
        first, expiry = served_fingerprint(dataplane, amphora), amphora["cert_expiration"]
        seen = {first}
        # Three certificates in a row, each served by the agent.
        wait_until(lambda: seen.add(served_fingerprint(dataplane, amphora)) or len(seen) >= 3,
                   60, "two rotations")
        rotated = os_("loadbalancer", "amphora", "show", amphora["id"], "-f", "json")
    print(f"\ncertificates served in {time.time() - started:.1f} s: {len(seen)}; "
          f"{len(load.results)} requests, {load.failed_after(started)} failed")
    assert load.failed_after(started) == 0
    assert rotated["cert_expiration"] > expiry
    assert rotated["id"] == amphora["id"] and rotated["status"] == "ALLOCATED", "no failover"
    # The controller still reaches the agent: a change is applied.
    os_("loadbalancer", "member", "set", "--weight", "5", "--wait", "pool1", "m1")
    assert os_("loadbalancer", "show", "lb1", "-f", "json")["provisioning_status"] == "ACTIVE"
    assert set(answers(dataplane, vip)) == {"m1", "m2"}
