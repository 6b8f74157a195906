"""What a failure in the amphora leaves, and how a user gets out of it, as in Octavia:
a child whose change failed is ERROR and is fixed by an update to a good value, its
load balancer stays ACTIVE and keeps serving the last good configuration; a load
balancer whose own update failed is ERROR, immutable, and can still be deleted.

The fault is real: the amphorae run HAProxy through a wrapper that refuses every
configuration while a flag file exists, so the agent's `haproxy -c` fails."""
import pytest

from conftest import started_dataplane
from test_dataplane import answers, wait_until

HAPROXY = "/usr/sbin/haproxy"


@pytest.fixture
def flaky_dataplane(tmp_path):
    flag = tmp_path / "refuse-configs"
    wrapper = tmp_path / "haproxy-wrapper"
    wrapper.write_text(f'#!/bin/sh\n[ -e "{flag}" ] && exit 1\nexec {HAPROXY} "$@"\n')
    wrapper.chmod(0o755)
    for service in started_dataplane(tmp_path, haproxy_cmd=str(wrapper)):
        service.refuse_configs = flag
        yield service


def status(dataplane, *show):
    return dataplane.openstack("loadbalancer", *show, "-f", "json")["provisioning_status"]


def test_a_failed_child_is_fixed_by_an_update_and_a_failed_lb_can_be_deleted(flaky_dataplane):
    dataplane, os = flaky_dataplane, flaky_dataplane.openstack
    os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet", "--wait")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", "HTTP",
       "--protocol-port", "80", "--wait", "lb1")
    os("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm", "ROUND_ROBIN",
       "--listener", "listener1", "--protocol", "HTTP", "--wait")
    dataplane.run.add_member("m1", "198.18.2.20")
    os("loadbalancer", "member", "create", "--name", "m1", "--subnet-id", "private-subnet",
       "--address", "198.18.2.20", "--protocol-port", "80", "--wait", "pool1")
    vip = os("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]
    assert set(answers(dataplane, vip, 5)) == {"m1"}

    # The amphora refuses the next configuration: the member goes ERROR, its load
    # balancer back to ACTIVE, and the VIP keeps serving the last good one.
    dataplane.refuse_configs.touch()
    os("loadbalancer", "member", "set", "--weight", "5", "pool1", "m1")
    wait_until(lambda: status(dataplane, "member", "show", "pool1", "m1") == "ERROR", 120,
               "m1 ERROR")
    assert status(dataplane, "show", "lb1") == "ACTIVE"
    assert set(answers(dataplane, vip, 5)) == {"m1"}

    # Once the amphora takes configurations again, an update to a good value fixes it.
    dataplane.refuse_configs.unlink()
    os("loadbalancer", "member", "set", "--weight", "3", "--wait", "pool1", "m1")
    member = os("loadbalancer", "member", "show", "pool1", "m1", "-f", "json")
    assert (member["provisioning_status"], member["weight"]) == ("ACTIVE", 3)
    assert status(dataplane, "show", "lb1") == "ACTIVE"
    assert set(answers(dataplane, vip, 5)) == {"m1"}

    # A failed update of the load balancer itself leaves it ERROR: it refuses changes
    # (409) and serves on; only a delete (or, later, a failover) is left. An update
    # that changes nothing the amphora runs does not reach it (its bundle is in force
    # already), so a member change fails first and the update carries it.
    dataplane.refuse_configs.touch()
    os("loadbalancer", "member", "set", "--weight", "4", "pool1", "m1")
    wait_until(lambda: status(dataplane, "member", "show", "pool1", "m1") == "ERROR", 120,
               "m1 ERROR again")
    os("loadbalancer", "set", "--enable", "lb1")
    wait_until(lambda: status(dataplane, "show", "lb1") == "ERROR", 120, "lb1 ERROR")
    refused = os("loadbalancer", "listener", "create", "--name", "l2", "--protocol", "TCP",
                 "--protocol-port", "81", "lb1", check=False)
    assert refused.returncode != 0 and "409" in refused.stderr, refused.stderr
    assert set(answers(dataplane, vip, 5)) == {"m1"}
    dataplane.refuse_configs.unlink()
    os("loadbalancer", "delete", "--cascade", "--wait", "lb1")
    assert dataplane.curl(f"http://{vip}/", timeout=2) is None
