"""UDP listeners through a real amphora, served by nftables in its load-balancing
namespace, as a client sees them: which member answered each datagram (round robin by
weight, source-IP persistence under a granularity mask), no answer from outside
`allowed_cidrs`, and the agent's own UDP-CONNECT and HTTP checks taking a dead member
out (its flows too) and bringing it back, with the member's operating status."""
import subprocess

from test_dataplane import member_status, wait_until

ADDRESSES = {"m1": "198.18.2.20", "m2": "198.18.2.21", "m3": "198.18.2.22"}

# Sends datagrams to VIP:PORT, each from a socket of its own (a new flow) unless
# "same" is given (then one every 50 ms, all in one flow), from SOURCE when given;
# prints the answering member of each, or "none" after 1 s of silence.
UDP_CLIENT = """
import socket, sys, time
vip, port, count, source, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def new_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0) if source != "-" else ("0.0.0.0", 0))
    s.settimeout(1)
    return s
s = new_socket()
for _ in range(count):
    if mode != "same":
        s.close()
        s = new_socket()
    else:
        time.sleep(0.05)
    s.sendto(b"who are you?", (vip, port))
    try:
        print(s.recv(512).split()[0].decode())
    except socket.timeout:
        print("none")
"""


def udp_answers(dataplane, vip, count=8, source="-", same=False, port=53):
    done = dataplane.run.exec("python3", "-c", UDP_CLIENT, vip, str(port), str(count), source,
                              "same" if same else "new", capture_output=True, text=True,
                              check=True)
    return done.stdout.split()


def build(dataplane, algorithm="ROUND_ROBIN", members=("m1", "m2"), listener_options=(),
          pool_options=(), weights=None):
    """lb1 → UDP listener1 (:53) → UDP pool1 → `members` (UDP port 80 of each)."""
    os = dataplane.openstack
    os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet", "--wait")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", "UDP",
       "--protocol-port", "53", *listener_options, "--wait", "lb1")
    os("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm", algorithm,
       "--listener", "listener1", "--protocol", "UDP", *pool_options, "--wait")
    for name in members:
        dataplane.run.add_member(name, ADDRESSES[name])
        weight = ("--weight", str(weights[name])) if weights else ()
        os("loadbalancer", "member", "create", "--name", name, "--subnet-id", "private-subnet",
           "--address", ADDRESSES[name], "--protocol-port", "80", *weight, "--wait", "pool1")
    return os("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]


def test_udp_round_robin_follows_the_weights_and_allowed_cidrs(dataplane):
    client, = dataplane.run.add_client_addresses(1)
    vip = build(dataplane, weights={"m1": 1, "m2": 3},
                listener_options=("--allowed-cidr", f"{client}/32"))
    got = udp_answers(dataplane, vip, 8, source=client)
    assert sorted(got) == ["m1"] * 2 + ["m2"] * 6, got
    # 198.18.1.1, the host namespace's own address, is outside allowed_cidrs.
    assert udp_answers(dataplane, vip, 3, source="198.18.1.1") == ["none"] * 3
    listener = dataplane.openstack("loadbalancer", "listener", "show", "listener1", "-f", "json")
    assert (listener["provisioning_status"], listener["operating_status"]) == ("ACTIVE", "ONLINE")
    # The heartbeats carry the ruleset's counters: 8 flows in, their answers out.
    stats = wait_until(lambda: (lambda st: st if st["total_connections"] >= 8 else None)(
        dataplane.openstack("loadbalancer", "listener", "stats", "show", "listener1",
                            "-f", "json")), 30, "8 flows in the listener's stats")
    assert stats["total_connections"] == 8, stats
    # Conntrack keeps each answered flow for 30 s: the 8 are current flows.
    assert stats["active_connections"] == 8, stats
    assert stats["bytes_in"] >= 8 * len("who are you?"), stats
    assert stats["bytes_out"] >= 8 * len("m1 198.18.2.x"), stats
    # Weight 0 drains m2: new flows go to m1 only.
    dataplane.openstack("loadbalancer", "member", "set", "--weight", "0", "--wait", "pool1", "m2")
    assert udp_answers(dataplane, vip, 4, source=client) == ["m1"] * 4


def test_udp_source_ip_persistence_keeps_each_client_on_its_member(dataplane):
    vip = build(dataplane, pool_options=("--session-persistence",
                                         "type=SOURCE_IP,persistence_timeout=60,"
                                         "persistence_granularity=255.255.255.255"))
    sources = dataplane.run.add_client_addresses(8)
    chosen = {}
    for source in sources:
        seen = set(udp_answers(dataplane, vip, 3, source=source))
        assert len(seen) == 1 and "none" not in seen, f"{source} moved: {seen}"
        chosen[source] = seen.pop()
    assert set(chosen.values()) == {"m1", "m2"}, chosen
    # A /24 granularity: the 8 clients, all in 198.18.1.0/24, share one member.
    dataplane.openstack("loadbalancer", "pool", "set", "--session-persistence",
                        "type=SOURCE_IP,persistence_granularity=255.255.255.0", "--wait",
                        "pool1")
    shared = {a for source in sources for a in udp_answers(dataplane, vip, 2, source=source)}
    assert len(shared) == 1 and "none" not in shared, shared


def test_udp_connect_monitor_takes_a_dead_member_and_its_flows_out_and_back(dataplane):
    vip = build(dataplane)
    dataplane.openstack("loadbalancer", "healthmonitor", "create", "--name", "hm1",
                        "--type", "UDP-CONNECT", "--delay", "3", "--timeout", "1",
                        "--max-retries", "1", "--max-retries-down", "1", "--wait", "pool1")
    for name in ("m1", "m2"):
        wait_until(lambda: member_status(dataplane, name) == "ONLINE", 30, f"{name} ONLINE")
    assert sorted(udp_answers(dataplane, vip, 4)) == ["m1", "m1", "m2", "m2"]
    # One flow stays on one socket throughout: conntrack keeps it on its member.
    flow = dataplane.run.popen("python3", "-u", "-c", UDP_CLIENT, vip, "53", "600", "-", "same",
                               stdout=subprocess.PIPE, text=True)
    first = flow.stdout.readline().strip()
    holder = next(m for m in dataplane.run.members if m["name"] == first)
    dataplane.run.stop_member(holder)
    other = "m2" if first == "m1" else "m1"
    wait_until(lambda: member_status(dataplane, first) == "ERROR", 30, f"{first} ERROR")
    # The flow of the dead member moved to the other one.
    wait_until(lambda: flow.stdout.readline().strip() == other, 15,
               f"the held flow answered by {other}")
    flow.kill()
    flow.wait()
    assert udp_answers(dataplane, vip, 4) == [other] * 4, "the dead member gets nothing"
    dataplane.run.start_member(holder)
    wait_until(lambda: member_status(dataplane, first) == "ONLINE", 30, f"{first} ONLINE again")
    wait_until(lambda: sorted(udp_answers(dataplane, vip, 4)) == ["m1", "m1", "m2", "m2"], 10,
               "both members again")


def test_http_monitor_of_a_udp_pool_checks_the_members_over_http(dataplane):
    vip = build(dataplane)
    # The members answer 200 to every path, over TCP on their UDP port.
    dataplane.openstack("loadbalancer", "healthmonitor", "create", "--name", "hm1",
                        "--type", "HTTP", "--url-path", "/healthcheck", "--expected-codes",
                        "201", "--delay", "1", "--timeout", "1", "--max-retries", "1",
                        "--max-retries-down", "1", "--wait", "pool1")
    for name in ("m1", "m2"):
        wait_until(lambda: member_status(dataplane, name) == "ERROR", 30, f"{name} ERROR")
    assert udp_answers(dataplane, vip, 2) == ["none"] * 2, "no member left: dropped"
    dataplane.openstack("loadbalancer", "healthmonitor", "set", "--expected-codes", "200",
                        "--wait", "hm1")
    wait_until(lambda: sorted(udp_answers(dataplane, vip, 4)) == ["m1", "m1", "m2", "m2"], 30,
               "members up again")


def test_udp_connection_limit_drops_new_flows_beyond_it(dataplane):
    vip = build(dataplane, listener_options=("--connection-limit", "2"))
    held = dataplane.run.popen("python3", "-u", "-c", UDP_CLIENT, vip, "53", "100", "-", "same",
                               stdout=subprocess.PIPE, text=True)
    assert held.stdout.readline().strip() in ("m1", "m2")
    try:
        # One flow is held; one more gets in, the next new ones are dropped.
        got = udp_answers(dataplane, vip, 3)
        assert got[0] in ("m1", "m2") and got[1:] == ["none", "none"], got
        assert held.stdout.readline().strip() in ("m1", "m2"), "the held flow is served"
        dataplane.openstack("loadbalancer", "listener", "set", "--connection-limit", "-1",
                            "--wait", "listener1")
        assert "none" not in udp_answers(dataplane, vip, 4), "no limit any more"
    finally:
        held.kill()
        held.wait()


def test_udp_flows_stay_on_their_member_through_reconfiguration(dataplane):
    """A flow held on one socket keeps its member, and loses no datagram, while members
    are added, reweighted and removed and another UDP listener is added."""
    vip = build(dataplane)
    held = dataplane.run.popen("python3", "-u", "-c", UDP_CLIENT, vip, "53", "1000000", "-",
                               "same", stdout=subprocess.PIPE, text=True)
    first = held.stdout.readline().strip()
    os = dataplane.openstack
    dataplane.run.add_member("m3", ADDRESSES["m3"])
    os("loadbalancer", "member", "create", "--name", "m3", "--subnet-id", "private-subnet",
       "--address", ADDRESSES["m3"], "--protocol-port", "80", "--wait", "pool1")
    other = "m2" if first == "m1" else "m1"
    os("loadbalancer", "member", "set", "--weight", "5", "--wait", "pool1", other)
    os("loadbalancer", "listener", "create", "--name", "listener2", "--protocol", "UDP",
       "--protocol-port", "54", "--wait", "lb1")
    os("loadbalancer", "member", "delete", "--wait", "pool1", other)
    held.kill()
    answers = held.stdout.read().split()
    held.wait()
    assert len(answers) > 10, answers
    assert set(answers) == {first}, f"the held flow moved or lost datagrams: {answers}"
