"""Real traffic through a real amphora: the operator workflow with provider `amphora`
inside a host namespace made for the test, members in namespaces of their own, HAProxy
in the amphora. Checks what a user sees: answers through the VIP, member statuses from
heartbeats, the data plane surviving the control plane, and nothing left behind."""
import subprocess
import time

from load import Load, UdpLoad, wait_until


def build(dataplane):
    """lb1 → listener1 (HTTP:80) → pool1 (ROUND_ROBIN, HTTP monitor) → members m1, m2."""
    run, os = dataplane.run, dataplane.openstack
    lb = os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet",
            "--wait", "-f", "json")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", "HTTP",
       "--protocol-port", "80", "--wait", "lb1")
    os("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm", "ROUND_ROBIN",
       "--listener", "listener1", "--protocol", "HTTP", "--wait")
    os("loadbalancer", "healthmonitor", "create", "--delay", "5", "--max-retries", "4",
       "--timeout", "10", "--type", "HTTP", "--url-path", "/healthcheck", "--wait", "pool1")
    members = [run.add_member("m1", "198.18.2.20"), run.add_member("m2", "198.18.2.21")]
    for member in members:
        os("loadbalancer", "member", "create", "--name", member["name"], "--subnet-id",
           "private-subnet", "--address", member["address"], "--protocol-port", "80",
           "--wait", "pool1")
    vip = os("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]
    assert vip == lb["vip_address"]
    return vip, members


def answers(dataplane, vip, count=20):
    return [dataplane.curl(f"http://{vip}/") for _ in range(count)]


def member_status(dataplane, name):
    return dataplane.openstack("loadbalancer", "member", "show", "pool1", name,
                               "-f", "json")["operating_status"]


def operating_statuses(dataplane):
    """(pool1's, lb1's) operating status."""
    os_ = dataplane.openstack
    return (os_("loadbalancer", "pool", "show", "pool1", "-f", "json")["operating_status"],
            os_("loadbalancer", "show", "lb1", "-f", "json")["operating_status"])


def test_traffic_reaches_both_members_and_a_member_down_then_up_is_reported(dataplane):
    os = dataplane.openstack
    vip, (m1, m2) = build(dataplane)
    assert set(answers(dataplane, vip)) == {"m1", "m2"}

    wait_until(lambda: member_status(dataplane, "m1") == "ONLINE", 60, "m1 ONLINE")
    status = os("loadbalancer", "status", "show", "lb1")
    assert "ONLINE" in status.stdout
    listed = os("loadbalancer", "amphora", "list", "-f", "json")[0]
    amphora = os("loadbalancer", "amphora", "show", listed["id"], "-f", "json")
    assert amphora["status"] == "ALLOCATED" and amphora["role"] == "STANDALONE"
    # HAProxy's counters reach the API through the heartbeats.
    wait_until(lambda: os("loadbalancer", "amphora", "stats", "show", amphora["id"],
                          "-f", "json")["total_connections"] >= 20, 30, "amphora stats")

    dataplane.run.stop_member(m2)
    # The monitor checks every 5 s and marks a member down after 3 failures.
    wait_until(lambda: member_status(dataplane, "m2") == "ERROR", 5 * 3 + 30, "m2 ERROR")
    assert set(answers(dataplane, vip)) == {"m1"}
    # One member of two down: its pool and its load balancer are DEGRADED.
    wait_until(lambda: operating_statuses(dataplane) == ("DEGRADED", "DEGRADED"), 30,
               "pool and load balancer DEGRADED")
    dataplane.run.start_member(m2)
    wait_until(lambda: member_status(dataplane, "m2") == "ONLINE", 5 * 4 + 30, "m2 ONLINE again")
    wait_until(lambda: operating_statuses(dataplane) == ("ONLINE", "ONLINE"), 30,
               "pool and load balancer ONLINE again")
    assert set(answers(dataplane, vip)) == {"m1", "m2"}

    os("loadbalancer", "delete", "--cascade", "--wait", "lb1")
    assert dataplane.curl(f"http://{vip}/", timeout=2) is None
    amphora_namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True,
                                        text=True).stdout
    assert amphora["compute_id"] not in amphora_namespaces


def test_fully_populated_load_balancer_carries_traffic(dataplane):
    """The listener, pool, monitor and members given in the load balancer's create (a
    request the CLI cannot make) are built with it, and the VIP serves at once."""
    run = dataplane.run
    for name, address in (("m1", "198.18.2.20"), ("m2", "198.18.2.21")):
        run.add_member(name, address)
    subnet = dataplane.api("GET", "/network/v2.0/subnets?name=public-subnet")["subnets"][0]
    members = [{"address": a, "protocol_port": 80} for a in ("198.18.2.20", "198.18.2.21")]
    created = dataplane.api("POST", "/v2/lbaas/loadbalancers", {"loadbalancer": {
        "name": "lb1", "vip_subnet_id": subnet["id"],
        "listeners": [{"name": "listener1", "protocol": "HTTP", "protocol_port": 80,
                       "default_pool": {
                           "name": "pool1", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                           "healthmonitor": {"type": "HTTP", "delay": 2, "timeout": 1,
                                             "max_retries": 2, "url_path": "/healthcheck"},
                           "members": members}}]}})
    assert "loadbalancer" in created, created
    vip = created["loadbalancer"]["vip_address"]
    wait_until(lambda: dataplane.openstack("loadbalancer", "show", "lb1", "-f", "json")
               ["provisioning_status"] == "ACTIVE", 60, "lb1 ACTIVE")
    assert set(answers(dataplane, vip)) == {"m1", "m2"}
    dataplane.openstack("loadbalancer", "delete", "--cascade", "--wait", "lb1")


def test_failed_create_leaves_nothing_pending(broken_haproxy_dataplane):
    """A create whose configuration every amphora refuses is retried, then reverted:
    the load balancer and the children made with it go to ERROR, none stays PENDING_*,
    and a cascade delete still removes it all."""
    dataplane = broken_haproxy_dataplane
    subnet = dataplane.api("GET", "/network/v2.0/subnets?name=public-subnet")["subnets"][0]
    created = dataplane.api("POST", "/v2/lbaas/loadbalancers", {"loadbalancer": {
        "name": "lb1", "vip_subnet_id": subnet["id"],
        "listeners": [{"name": "listener1", "protocol": "HTTP", "protocol_port": 80,
                       "default_pool": {"name": "pool1", "protocol": "HTTP",
                                        "lb_algorithm": "ROUND_ROBIN"}}]}})
    assert "loadbalancer" in created, created

    def status(*what):
        return dataplane.openstack("loadbalancer", *what, "-f", "json")["provisioning_status"]
    wait_until(lambda: status("show", "lb1") != "PENDING_CREATE", 120, "lb1 to leave PENDING")
    assert status("show", "lb1") == "ERROR"
    assert status("listener", "show", "listener1") == "ERROR"
    assert status("pool", "show", "pool1") == "ERROR"
    dataplane.openstack("loadbalancer", "delete", "--cascade", "--wait", "lb1")
    assert dataplane.openstack("loadbalancer", "list", "-f", "json") == []


def test_data_plane_survives_kill_9_of_the_control_plane(dataplane):
    vip, (m1, m2) = build(dataplane)
    # A UDP listener on the same members (they answer UDP on port 80 too).
    os = dataplane.openstack
    os("loadbalancer", "listener", "create", "--name", "udp1", "--protocol", "UDP",
       "--protocol-port", "53", "--wait", "lb1")
    os("loadbalancer", "pool", "create", "--name", "udppool1", "--lb-algorithm",
       "ROUND_ROBIN", "--listener", "udp1", "--protocol", "UDP", "--wait")
    for member in (m1, m2):
        os("loadbalancer", "member", "create", "--subnet-id", "private-subnet", "--address",
           member["address"], "--protocol-port", "80", "--wait", "udppool1")
    # Serving as configured before the fault; a reload just after the last member's
    # create is not what this test is about (zero-loss reconfiguration has its own).
    wait_until(lambda: set(answers(dataplane, vip)) == {"m1", "m2"}, 30, "both members")
    dataplane.kill()  # SIGKILL
    killed = time.time()
    udp = UdpLoad(dataplane, vip, 53, 30)
    with Load(dataplane, vip) as load:
        time.sleep(30)
    udp_answered, udp_unanswered = udp.result()
    print(f"control plane killed: {load.failures_after(killed)} in 30 s; UDP: "
          f"{udp_unanswered} unanswered of {udp_answered + udp_unanswered} datagrams")
    assert load.failed_after(killed) == 0, load.failures_after(killed)
    assert udp_answered > 100 and udp_unanswered == 0, (udp_answered, udp_unanswered)
    assert set(answers(dataplane, vip)) == {"m1", "m2"}, "the VIP must keep serving"

    dataplane.start()
    dataplane.openstack("loadbalancer", "member", "delete", "--wait", "pool1", "m2")
    assert set(answers(dataplane, vip)) == {"m1"}, "the restarted control plane manages the amphora"
    dataplane.openstack("loadbalancer", "delete", "--cascade", "--wait", "lb1")


def test_create_survives_kill_9_mid_flow(dataplane):
    os = dataplane.openstack
    lb = os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet",
            "-f", "json")
    assert lb["provisioning_status"] == "PENDING_CREATE"
    time.sleep(0.3)  # the worker is building the amphora
    dataplane.kill()  # SIGKILL
    dataplane.start()
    wait_until(lambda: os("loadbalancer", "show", "lb1", "-f", "json")["provisioning_status"]
               in ("ACTIVE", "ERROR"), 120, "lb1 to leave PENDING_CREATE")
    assert os("loadbalancer", "show", "lb1", "-f", "json")["provisioning_status"] == "ACTIVE"
    amphorae = os("loadbalancer", "amphora", "list", "-f", "json")
    assert [a["status"] for a in amphorae] == ["ALLOCATED"]
    os("loadbalancer", "delete", "--wait", "lb1")


def test_cleanup_removes_what_a_killed_run_left(dataplane):
    vip, _ = build(dataplane)
    dataplane.kill()
    run = dataplane.run
    registry = run.base_path / "netns"
    amphora_namespaces = [p.name for p in registry.iterdir() if p.name.startswith("amp-")]
    assert len(amphora_namespaces) == 2, "the amphora's two namespaces are recorded"
    run.cleanup(dataplane.krater_bin)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(ns in listed.split() for ns in amphora_namespaces + [run.host])
    haproxy = subprocess.run(["pgrep", "-f", str(run.base_path)], capture_output=True, text=True)
    assert haproxy.stdout == "", "no HAProxy of the run is left"


def alive(pid):
    """Whether `pid` is a process that has not exited (a zombie has)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZXx"


def amphora_processes(run):
    """The pids of the run's amphora agents and HAProxy masters, read without krater's
    help: HAProxy's own pid files, and the agents by their configuration file."""
    haproxy = [int(p.read_text().split()[0]) for p in run.base_path.glob("*/*/haproxy.pid")]
    agents = []
    for config in run.base_path.glob("*/agent.toml"):
        found = subprocess.run(["pgrep", "-f", f"amphora-agent --agent-config {config}$"],
                               capture_output=True, text=True).stdout
        agents += [int(pid) for pid in found.split()]
    return agents + haproxy


def test_cleanup_kills_only_the_processes_krater_recorded(dataplane):
    """`krater cleanup` kills the amphora's agent and HAProxy; a process that merely
    names the base path on its command line is not krater's and survives."""
    run, os = dataplane.run, dataplane.openstack
    os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet", "--wait")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", "HTTP",
       "--protocol-port", "80", "--wait", "lb1")
    # A reload: the master re-executes itself and keeps its pid and arguments.
    os("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm", "ROUND_ROBIN",
       "--listener", "listener1", "--protocol", "HTTP", "--wait")
    pids = amphora_processes(run)
    assert len(pids) == 2 and all(alive(pid) for pid in pids), pids
    decoy = subprocess.Popen(["bash", "-c", "sleep 600; true", str(run.base_path / "decoy")])
    try:
        dataplane.kill()
        run.cleanup(dataplane.krater_bin)
        wait_until(lambda: not any(alive(pid) for pid in pids), 30,
                   "the amphora's agent and HAProxy to die")
        assert decoy.poll() is None, "a process krater did not start survives krater cleanup"
    finally:
        decoy.kill()
        decoy.wait()


def test_amphorae_are_found_again_by_a_control_plane_restarted_in_a_new_mount_namespace(
        dataplane):
    """`krater serve` runs under `ip netns exec`, which gives each start a mount
    namespace of its own: the amphora's namespace names made by the first start do not
    open in the second. A member plugged after the restart (a new veth into the
    amphora) still works and carries traffic."""
    run, os = dataplane.run, dataplane.openstack
    os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet", "--wait")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", "HTTP",
       "--protocol-port", "80", "--wait", "lb1")
    os("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm", "ROUND_ROBIN",
       "--listener", "listener1", "--protocol", "HTTP", "--wait")
    agent_ns = os("loadbalancer", "amphora", "list", "-f", "json")[0]
    agent_ns = os("loadbalancer", "amphora", "show", agent_ns["id"], "-f", "json")["compute_id"]
    dataplane.kill()  # SIGKILL
    dataplane.start()
    stale = run.exec("ip", "-n", agent_ns, "link", "show", "dev", "lo", capture_output=True)
    assert stale.returncode != 0, "the name made by the first start does not open here"

    m1 = run.add_member("m1", "198.18.2.20")
    os("loadbalancer", "member", "create", "--name", "m1", "--subnet-id", "private-subnet",
       "--address", m1["address"], "--protocol-port", "80", "pool1", check=False)
    wait_until(lambda: os("loadbalancer", "member", "show", "pool1", "m1", "-f", "json")
               ["provisioning_status"] in ("ACTIVE", "ERROR"), 120, "m1 to leave PENDING")
    assert os("loadbalancer", "member", "show", "pool1", "m1", "-f", "json")[
        "provisioning_status"] == "ACTIVE", dataplane.log_path.read_text()[-3000:]
    vip = os("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]
    assert set(answers(dataplane, vip)) == {"m1"}
    os("loadbalancer", "delete", "--cascade", "--wait", "lb1")


def test_a_removed_monitor_address_brings_the_member_back(dataplane):
    """A monitor address where nothing answers puts the member in ERROR; removing it
    (null) checks the member itself again: ONLINE, and traffic reaches it."""
    run, os = dataplane.run, dataplane.openstack
    os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet", "--wait")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", "HTTP",
       "--protocol-port", "80", "--wait", "lb1")
    pool = os("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm",
              "ROUND_ROBIN", "--listener", "listener1", "--protocol", "HTTP", "--wait",
              "-f", "json")
    os("loadbalancer", "healthmonitor", "create", "--delay", "1", "--max-retries", "1",
       "--timeout", "1", "--type", "HTTP", "--url-path", "/healthcheck", "--wait", "pool1")
    m1 = run.add_member("m1", "198.18.2.20")
    member = os("loadbalancer", "member", "create", "--name", "m1", "--subnet-id",
                "private-subnet", "--address", m1["address"], "--protocol-port", "80",
                "--wait", "pool1", "-f", "json")
    wait_until(lambda: member_status(dataplane, "m1") == "ONLINE", 60, "m1 ONLINE")
    vip = os("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]
    path = f"/v2/lbaas/pools/{pool['id']}/members/{member['id']}"

    def update(monitor_address):
        dataplane.api("PUT", path, {"member": {"monitor_address": monitor_address}})
        wait_until(lambda: os("loadbalancer", "member", "show", "pool1", "m1", "-f", "json")
                   ["provisioning_status"] == "ACTIVE", 60, "m1 ACTIVE")

    update("198.18.2.99")
    wait_until(lambda: member_status(dataplane, "m1") == "ERROR", 60, "m1 ERROR")
    update(None)
    wait_until(lambda: member_status(dataplane, "m1") == "ONLINE", 60, "m1 ONLINE again")
    assert set(answers(dataplane, vip)) == {"m1"}
    os("loadbalancer", "delete", "--cascade", "--wait", "lb1")
