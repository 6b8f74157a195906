"""ACTIVE_STANDBY with real amphorae on the embedded default: two amphorae per load
balancer, MASTER and BACKUP, keepalived moving the VIP between them. Faults are made on
the VRRP master (the amphora that holds the VIP) under load; each test prints what a user
sees: the VIP's downtime, the failed requests, the established connections dropped, and
the time until two healthy amphorae serve again."""
import json
import subprocess
import time
from pathlib import Path

import pytest

from conftest import started_dataplane
from test_dataplane import answers, build, wait_until
from test_failover import Load, in_krater_mounts

ACTIVE_STANDBY = '[controller_worker]\nloadbalancer_topology = "ACTIVE_STANDBY"\n'


@pytest.fixture
def active_standby(tmp_path):
    """The embedded default with ACTIVE_STANDBY load balancers and the default stale
    timeout (3 s)."""
    yield from started_dataplane(tmp_path, health_manager="heartbeat_timeout = 3\n",
                                 sections=ACTIVE_STANDBY)


def amphorae(dataplane):
    """The amphorae of lb1 that are not DELETED, whole, in one API call (one shown
    after a list may be gone by then)."""
    lb_id = dataplane.openstack("loadbalancer", "show", "lb1", "-f", "json")["id"]
    listed = dataplane.api("GET", f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")
    return [a for a in listed["amphorae"] if a["status"] != "DELETED"]


def holds_vip(dataplane, amphora):
    """Whether the VIP is on the amphora's eth1 (where keepalived puts it)."""
    try:
        out = in_krater_mounts(dataplane, "ip", "-n", amphora["compute_id"] + "-lb", "-j",
                               "addr", "show", "dev", "eth1")
    except subprocess.CalledProcessError:
        return False
    return any(a["local"] == amphora["ha_ip"] for link in json.loads(out)
               for a in link["addr_info"])


def vip_holders(dataplane):
    return [a for a in amphorae(dataplane) if holds_vip(dataplane, a)]


def the_vip_holder(dataplane):
    """The one amphora that holds the VIP (waits until exactly one does)."""
    return wait_until(lambda: (lambda h: len(h) == 1 and h[0])(vip_holders(dataplane)), 30,
                      "exactly one amphora holding the VIP")


def redundant(dataplane, old):
    """lb1 ACTIVE with a MASTER and a BACKUP amphora, both ALLOCATED, neither `old`;
    else None."""
    lb = dataplane.openstack("loadbalancer", "show", "lb1", "-f", "json")
    if lb["provisioning_status"] != "ACTIVE":
        return None
    live = [a for a in amphorae(dataplane) if a["status"] != "PENDING_DELETE"]
    if (sorted(a["role"] for a in live) != ["BACKUP", "MASTER"]
            or any(a["status"] != "ALLOCATED" or a["id"] == old["id"] for a in live)):
        return None
    return live


def test_an_active_standby_load_balancer_has_a_master_and_a_backup(active_standby):
    dataplane = active_standby
    vip, _ = build(dataplane)
    amps = amphorae(dataplane)
    assert sorted((a["role"], a["vrrp_priority"], a["status"]) for a in amps) == [
        ("BACKUP", 90, "ALLOCATED"), ("MASTER", 100, "ALLOCATED")]
    for a in amps:
        assert a["ha_ip"] == vip and a["vrrp_ip"] and a["vrrp_ip"] != vip
    assert set(answers(dataplane, vip)) == {"m1", "m2"}
    # The VIP is keepalived's, on one amphora only.
    the_vip_holder(dataplane)


def test_a_load_balancer_is_active_once_an_amphora_holds_its_vip(active_standby):
    """keepalived gives the VIP only to an amphora whose HAProxy runs, and the new
    amphorae, both BACKUP, elect a holder a takeover time after the first listener
    starts HAProxy; that change reports ACTIVE only then, so that ACTIVE means serving."""
    dataplane = active_standby
    subnets = {s["name"]: s["id"] for s in dataplane.api("GET", "/network/v2.0/subnets")["subnets"]}
    lb = dataplane.api("POST", "/v2/lbaas/loadbalancers", {"loadbalancer": {
        "name": "lb1", "vip_subnet_id": subnets["public-subnet"]}})["loadbalancer"]

    def active():
        deadline = time.time() + 60
        while dataplane.api("GET", f"/v2/lbaas/loadbalancers/{lb['id']}")["loadbalancer"][
                "provisioning_status"] != "ACTIVE":
            assert time.time() < deadline, "the load balancer never turned ACTIVE"
            time.sleep(0.05)
    active()
    assert vip_holders(dataplane) == [], "no HAProxy runs: nothing to hold the VIP for"
    dataplane.api("POST", "/v2/lbaas/listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}})
    active()
    assert len(vip_holders(dataplane)) == 1, "ACTIVE before an amphora held the VIP"


class Connections:
    """Established connections through the VIP, held open across a fault
    (connections.py in the host namespace)."""

    def __init__(self, dataplane, vip, count=10):
        self.process = dataplane.run.popen(
            "python3", str(Path(__file__).with_name("connections.py")), vip, str(count),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"

    def dropped(self):
        """Stops holding them; returns how many were dropped."""
        out, _ = self.process.communicate("", timeout=60)
        return json.loads(out)["dropped"]


def processes(dataplane, amphora, program):
    """The pids of `program` in the amphora's load-balancing namespace."""
    ns = amphora["compute_id"] + "-lb"
    pids = in_krater_mounts(dataplane, "ip", "netns", "pids", ns).split()
    return [pid for pid in pids
            if Path(f"/proc/{pid}/comm").read_text().strip() == program]


def kill_9(pids):
    for pid in pids:
        subprocess.run(["kill", "-9", pid], check=False)


def kill_haproxy(dataplane, amphora):
    """kill -9 of the amphora's HAProxy master and workers; the agent starts it again."""
    pids = processes(dataplane, amphora, "haproxy")
    assert len(pids) >= 2, f"a HAProxy master and a worker: {pids}"
    kill_9(pids)
    return "kill its HAProxy", lambda: processes(dataplane, amphora, "haproxy")


def kill_keepalived(dataplane, amphora):
    """kill -9 of the amphora's keepalived (its VIP stays on the interface); the agent
    starts it again."""
    pids = processes(dataplane, amphora, "keepalived")
    assert len(pids) == 2, f"keepalived's parent and VRRP processes: {pids}"
    kill_9(pids)
    return "kill its keepalived", lambda: len(processes(dataplane, amphora, "keepalived")) == 2


def kill_amphora(dataplane, amphora):
    """The amphora vanishes: every process of it killed, its namespaces deleted; the
    health manager fails it over."""
    kill_9([pid for ns in (amphora["compute_id"], amphora["compute_id"] + "-lb")
            for pid in in_krater_mounts(dataplane, "ip", "netns", "pids", ns).split()])
    for ns in (amphora["compute_id"], amphora["compute_id"] + "-lb"):
        in_krater_mounts(dataplane, "ip", "netns", "delete", ns)
    return "delete it", lambda: redundant(dataplane, amphora)


@pytest.mark.parametrize("fault", [kill_haproxy, kill_keepalived, kill_amphora])
def test_a_fault_of_the_vrrp_master_moves_the_vip_or_heals(active_standby, fault):
    dataplane = active_standby
    vip, _ = build(dataplane)
    master = the_vip_holder(dataplane)
    with Load(dataplane, vip) as load:
        held = Connections(dataplane, vip)
        what, healed = fault(dataplane, master)
        fault_at = time.time()
        wait_until(healed, 90, "two healthy amphorae again")
        healed_at = time.time()
        wait_until(lambda: load.first_answer_after(fault_at), 30, "an answer after the fault")
        time.sleep(1)
        dropped = held.dropped()
    print(f"\nACTIVE_STANDBY, {what} (the VRRP master, {master['role']}): VIP down for "
          f"{load.longest_gap_after(fault_at):.2f} s, {load.failures_after(fault_at)}, "
          f"{dropped} of 10 established connections dropped, two healthy "
          f"amphorae after {healed_at - fault_at:.2f} s")
    holder = the_vip_holder(dataplane)
    if fault is kill_keepalived:
        assert holder["id"] != master["id"], "the BACKUP took the VIP over"
    if fault is kill_amphora:
        assert redundant(dataplane, master), "the dead amphora was replaced"
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True,
                                    text=True).stdout
        assert master["compute_id"] not in namespaces
    assert set(answers(dataplane, vip)) == {"m1", "m2"}


@pytest.mark.parametrize("target", ["loadbalancer", "amphora"])
def test_an_operator_failover_replaces_the_amphorae_without_a_failed_request(
        active_standby, target):
    """`PUT …/failover` of the load balancer (both amphorae, one after the other) or of
    the amphora that holds the VIP: each amphora that goes stops its keepalived with the
    VIP left in place and serves until its peer has taken the VIP over."""
    dataplane = active_standby
    vip, _ = build(dataplane)
    holder = the_vip_holder(dataplane)
    olds = amphorae(dataplane)
    with Load(dataplane, vip) as load:
        asked_at = time.time()
        if target == "loadbalancer":
            dataplane.openstack("loadbalancer", "failover", "lb1")
        else:
            dataplane.openstack("loadbalancer", "amphora", "failover", holder["id"])
        replaced = (olds if target == "loadbalancer" else [holder])
        new = wait_until(lambda: (lambda live: live and not {a["id"] for a in live} & {
            a["id"] for a in replaced} and live)(redundant(dataplane, holder)), 120,
            "the amphorae replaced")
        ready_at = time.time()
        time.sleep(1)
    print(f"\nACTIVE_STANDBY, PUT {target} failover: two healthy amphorae after "
          f"{ready_at - asked_at:.2f} s, {load.failures_after(asked_at)}, longest gap "
          f"{load.longest_gap_after(asked_at):.2f} s")
    assert load.failed_after(asked_at) == 0
    the_vip_holder(dataplane)
    assert all(a["ha_ip"] == vip for a in new)
    assert set(answers(dataplane, vip)) == {"m1", "m2"}


def member_of(dataplane, vip, source):
    """The member that answers a client at `source`, asked three times (None unless
    it is always the same one)."""
    seen = {dataplane.run.exec("curl", "-s", "-m", "2", "--interface", source,
                               f"http://{vip}/", capture_output=True, text=True).stdout.strip()
            for _ in range(3)}
    return seen.pop() if len(seen) == 1 else None


def test_a_source_ip_client_keeps_its_member_after_the_takeover(active_standby):
    """SOURCE_IP persistence lives in HAProxy's stick table, which `peers` copies to the
    other amphora: after the VIP holder's keepalived dies and its peer takes the VIP
    over, every client is still sent to the member it had. The clients are asked grouped by their member, an order in which a new,
    empty table (round robin again) could not give the same answers."""
    dataplane = active_standby
    vip, _ = build(dataplane)
    dataplane.openstack("loadbalancer", "pool", "set", "--session-persistence",
                        "type=SOURCE_IP", "--wait", "pool1")
    sources = dataplane.run.add_client_addresses(8)
    before = {source: member_of(dataplane, vip, source) for source in sources}
    assert set(before.values()) == {"m1", "m2"}, before
    master = the_vip_holder(dataplane)
    _, revived = kill_keepalived(dataplane, master)
    wait_until(lambda: any(holds_vip(dataplane, a) for a in amphorae(dataplane)
                           if a["id"] != master["id"]), 30, "the VIP on the peer")
    grouped = sorted(sources, key=lambda s: before[s])
    after = {source: member_of(dataplane, vip, source) for source in grouped}
    assert after == before, "each client kept its member across the takeover"
    wait_until(revived, 30, "keepalived running again on the old holder")


def test_the_vip_moves_while_the_control_plane_is_down(active_standby):
    """keepalived needs no control plane: with `krater serve` killed, the peer of a VIP
    holder whose every process died takes the VIP and serves."""
    dataplane = active_standby
    vip, _ = build(dataplane)
    master = the_vip_holder(dataplane)
    peer = next(a for a in amphorae(dataplane) if a["id"] != master["id"])
    doomed = [pid for ns in (master["compute_id"], master["compute_id"] + "-lb")
              for pid in in_krater_mounts(dataplane, "ip", "netns", "pids", ns).split()]
    # The amphorae's namespaces are mounted in krater's mount namespace only, which
    # goes with it: the peer's is entered through one of its processes.
    peer_pid = processes(dataplane, peer, "haproxy")[0]
    dataplane.kill()
    with Load(dataplane, vip) as load:
        fault_at = time.time()
        kill_9(doomed)
        wait_until(lambda: load.first_answer_after(fault_at + 2), 30, "answers after the fault")
    print(f"\nACTIVE_STANDBY with the control plane down, every process of the VIP holder "
          f"killed: VIP down for {load.longest_gap_after(fault_at):.2f} s, "
          f"{load.failures_after(fault_at)}")
    out = subprocess.run(["nsenter", "-t", peer_pid, "-n", "ip", "-j", "addr", "show", "dev",
                          "eth1"], capture_output=True, text=True, check=True).stdout
    assert vip in [a["local"] for link in json.loads(out) for a in link["addr_info"]]
    assert set(answers(dataplane, vip)) == {"m1", "m2"}


def test_a_udp_only_pair_serves_and_hands_the_vip_over_on_failover(active_standby):
    """With only a UDP listener (no HAProxy at all), the VRRP check passes once the
    UDP table is loaded: one amphora holds the VIP and the members answer; an operator
    failover of the holder moves the VIP while datagrams keep being answered."""
    from load import UdpLoad
    from test_udp import build as build_udp, udp_answers

    dataplane = active_standby
    vip = build_udp(dataplane)
    assert sorted(udp_answers(dataplane, vip, 4)) == ["m1", "m1", "m2", "m2"]
    holder = the_vip_holder(dataplane)
    load, started = UdpLoad(dataplane, vip, 53, 30), time.time()
    dataplane.openstack("loadbalancer", "amphora", "failover", holder["id"])
    wait_until(lambda: redundant(dataplane, holder), 90, "two healthy amphorae again")
    assert time.time() < started + 30, "the failover outlasted the load"
    answered, unanswered = load.result()
    print(f"\nACTIVE_STANDBY, UDP only, failover of the VIP holder: {unanswered} unanswered "
          f"of {answered + unanswered} datagrams")
    assert the_vip_holder(dataplane)["id"] != holder["id"]
    # Each amphora keeps its own round-robin turn, so right after the handover the
    # exact alternation is not promised: both members answer.
    assert set(udp_answers(dataplane, vip, 6)) == {"m1", "m2"}
    assert unanswered == 0, (answered, unanswered)
