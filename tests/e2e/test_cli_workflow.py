"""The operator guide's workflow, word for word, through the unmodified openstack CLI
(python-openstackclient + python-octaviaclient) against krater, for both providers."""
import pytest


@pytest.mark.parametrize("provider", ["amphora", "noop_driver"])
def test_operator_workflow(krater, provider):
    os = krater.openstack
    lb = os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet",
            "--provider", provider, "--wait", "-f", "json")
    assert lb["provisioning_status"] in ("PENDING_CREATE", "ACTIVE")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", "HTTP",
       "--protocol-port", "80", "--wait", "lb1")
    os("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm", "ROUND_ROBIN",
       "--listener", "listener1", "--protocol", "HTTP", "--wait")
    os("loadbalancer", "healthmonitor", "create", "--delay", "5", "--max-retries", "4",
       "--timeout", "10", "--type", "HTTP", "--url-path", "/healthcheck", "--wait", "pool1")
    for address in ("198.18.2.20", "198.18.2.21"):
        os("loadbalancer", "member", "create", "--subnet-id", "private-subnet", "--address",
           address, "--protocol-port", "80", "--wait", "pool1")

    shown = os("loadbalancer", "show", "lb1", "-f", "json")
    assert shown["provisioning_status"] == "ACTIVE"
    assert shown["provider"] == provider
    assert shown["vip_address"].startswith("198.18.1.")
    status = os("loadbalancer", "status", "show", "lb1")
    assert "listener1" in status.stdout and "198.18.2.21" in status.stdout
    amphorae = os("loadbalancer", "amphora", "list", "-f", "json")
    if provider == "noop_driver":
        assert amphorae == [], "Octavia's noop provider builds no amphora"
    else:
        assert len(amphorae) == 1 and amphorae[0]["status"] == "ALLOCATED"
        amphora = os("loadbalancer", "amphora", "show", amphorae[0]["id"], "-f", "json")
        assert amphora["loadbalancer_id"] == shown["id"]
    listener = os("loadbalancer", "listener", "show", "listener1", "-f", "json")
    assert listener["provisioning_status"] == "ACTIVE" and listener["protocol_port"] == 80
    pool = os("loadbalancer", "pool", "show", "pool1", "-f", "json")
    assert pool["provisioning_status"] == "ACTIVE" and pool["lb_algorithm"] == "ROUND_ROBIN"
    members = os("loadbalancer", "member", "list", "pool1", "-f", "json")
    assert sorted(m["address"] for m in members) == ["198.18.2.20", "198.18.2.21"]

    os("loadbalancer", "delete", "--cascade", "--wait", "lb1")
    assert os("loadbalancer", "list", "-f", "json") == []


def test_cli_reports_octavia_errors(krater):
    done = krater.openstack("loadbalancer", "listener", "create", "--protocol", "HTTP",
                            "--protocol-port", "80", "no-such-lb", check=False)
    assert done.returncode != 0
    done = krater.openstack("loadbalancer", "create", "--vip-subnet-id", "no-such-subnet",
                            check=False)
    assert done.returncode != 0
    assert krater.openstack("loadbalancer", "list", "-f", "json") == []
