"""HTTPS passthrough through a real amphora: an HTTPS listener hands the TLS
connection to members that terminate it themselves (the client sees the member's
certificate), and TLS-HELLO and HTTPS monitors check members over TLS."""
import subprocess

import pytest

from test_dataplane import member_status, wait_until

ADDRESSES = {"m1": "198.18.2.20", "m2": "198.18.2.21"}


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for the members, CN member.test."""
    cert, key = tmp_path / "member.pem", tmp_path / "member.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=member.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


def answer(dataplane, vip, certificate):
    """The member's answer over TLS through the VIP, trusting only the members'
    certificate for the name member.test; None when there is none."""
    done = dataplane.run.exec(
        "curl", "-sf", "-m", "3", "--cacert", certificate[0], "--resolve",
        f"member.test:443:{vip}", "https://member.test/", capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.mark.parametrize("monitor", ["TLS-HELLO", "HTTPS"])
def test_https_passthrough_reaches_members_that_terminate_tls(dataplane, certificate,
                                                               monitor):
    os, run = dataplane.openstack, dataplane.run
    os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet", "--wait")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", "HTTPS",
       "--protocol-port", "443", "--wait", "lb1")
    os("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm", "ROUND_ROBIN",
       "--listener", "listener1", "--protocol", "HTTPS", "--wait")
    os("loadbalancer", "healthmonitor", "create", "--delay", "1", "--timeout", "1",
       "--max-retries", "1", "--max-retries-down", "1", "--type", monitor, "--wait", "pool1")
    members = {}
    for name, address in ADDRESSES.items():
        members[name] = run.add_member(name, address, port=443, tls=certificate)
        os("loadbalancer", "member", "create", "--name", name, "--subnet-id",
           "private-subnet", "--address", address, "--protocol-port", "443", "--wait", "pool1")
    vip = os("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]
    wait_until(lambda: {answer(dataplane, vip, certificate) for _ in range(8)} == {"m1", "m2"},
               30, "both members over TLS")
    wait_until(lambda: member_status(dataplane, "m2") == "ONLINE", 30, "m2 ONLINE")
    run.stop_member(members["m2"])
    wait_until(lambda: member_status(dataplane, "m2") == "ERROR", 30, "m2 ERROR")
    assert {answer(dataplane, vip, certificate) for _ in range(8)} == {"m1"}
