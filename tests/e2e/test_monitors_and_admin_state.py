"""Health monitors of other kinds and admin states through a real amphora, as a
client sees them: a TCP monitor takes a dead member out; an HTTP monitor expecting
other codes marks every member down until its codes are fixed; a disabled listener,
pool or load balancer stops serving until enabled again."""
from test_dataplane import member_status, wait_until
from test_pool_options import answers, build


def monitor(dataplane, *options):
    dataplane.openstack("loadbalancer", "healthmonitor", "create", "--name", "hm1",
                        "--delay", "1", "--timeout", "1", "--max-retries", "1",
                        "--max-retries-down", "1", *options, "--wait", "pool1")


def test_a_tcp_monitor_takes_a_dead_member_out_and_back(dataplane):
    vip = build(dataplane, "TCP", "ROUND_ROBIN")
    monitor(dataplane, "--type", "TCP")
    m2 = next(m for m in dataplane.run.members if m["name"] == "m2")
    wait_until(lambda: member_status(dataplane, "m2") == "ONLINE", 30, "m2 ONLINE")
    dataplane.run.stop_member(m2)
    wait_until(lambda: member_status(dataplane, "m2") == "ERROR", 30, "m2 ERROR")
    assert set(answers(dataplane, vip)) == {"m1"}, "the dead member gets nothing"
    dataplane.run.start_member(m2)
    wait_until(lambda: member_status(dataplane, "m2") == "ONLINE", 30, "m2 ONLINE again")
    wait_until(lambda: set(answers(dataplane, vip)) == {"m1", "m2"}, 10, "both members again")


def test_an_http_monitor_expecting_other_codes_marks_members_down(dataplane):
    vip = build(dataplane, "HTTP", "ROUND_ROBIN")
    # The members answer 200 to every path.
    monitor(dataplane, "--type", "HTTP", "--url-path", "/healthcheck", "--expected-codes",
            "201-204")
    for name in ("m1", "m2"):
        wait_until(lambda: member_status(dataplane, name) == "ERROR", 30, f"{name} ERROR")
    assert set(answers(dataplane, vip, 4)) == {None}, "no member left: 503"
    dataplane.openstack("loadbalancer", "healthmonitor", "set", "--expected-codes",
                        "200,202", "--wait", "hm1")
    wait_until(lambda: set(answers(dataplane, vip)) == {"m1", "m2"}, 30, "members up again")


def test_disabled_listener_pool_and_load_balancer_stop_serving(dataplane):
    vip = build(dataplane, "HTTP", "ROUND_ROBIN")
    os = dataplane.openstack
    for kind, name in (("listener", "listener1"), ("pool", "pool1"), (None, "lb1")):
        command = ("loadbalancer", kind) if kind else ("loadbalancer",)
        os(*command, "set", "--disable", "--wait", name)
        assert set(answers(dataplane, vip, 4)) == {None}, f"{name} disabled"
        os(*command, "set", "--enable", "--wait", name)
        assert set(answers(dataplane, vip)) == {"m1", "m2"}, f"{name} enabled again"
