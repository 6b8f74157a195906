"""The list filters the unmodified openstack CLI sends (python-octaviaclient turns
--loadbalancer, --enable, --role, … into query filters) against krater."""


def test_cli_list_filters(krater):
    os = krater.openstack
    for lb in ("lb1", "lb2"):
        # Provider amphora on the fixture's noop amphora drivers: amphorae to filter.
        os("loadbalancer", "create", "--name", lb, "--vip-subnet-id", "public-subnet",
           "--wait")
        os("loadbalancer", "listener", "create", "--name", f"{lb}-http", "--protocol", "HTTP",
           "--protocol-port", "80", "--wait", lb)
        os("loadbalancer", "pool", "create", "--name", f"{lb}-pool", "--lb-algorithm",
           "ROUND_ROBIN", "--loadbalancer", lb, "--protocol", "HTTP", "--wait")
    lb1 = os("loadbalancer", "show", "lb1", "-f", "json")["id"]

    def names(*args):
        return sorted(o["name"] for o in os("loadbalancer", *args, "-f", "json"))

    assert names("listener", "list", "--loadbalancer", "lb1") == ["lb1-http"]
    assert names("listener", "list", "--loadbalancer", "lb2", "--enable") == ["lb2-http"]
    assert names("listener", "list", "--disable") == []
    assert names("pool", "list", "--loadbalancer", "lb1") == ["lb1-pool"]
    amphorae = os("loadbalancer", "amphora", "list", "--loadbalancer", "lb1", "--role",
                  "STANDALONE", "--status", "ALLOCATED", "-f", "json")
    assert [a["loadbalancer_id"] for a in amphorae] == [lb1]
