"""Failover with real amphorae on the embedded default (SINGLE topology): an amphora
that dies under load is replaced by a new one on the same VIP, found by the health
manager alone (no request names it), and an operator's `PUT …/failover` does the same.
Each test prints the times a user sees: from the fault to the first request answered
again, and to the load balancer ACTIVE with a healthy amphora."""
import subprocess
import time

import pytest

from conftest import KRATER_BIN, started_dataplane
from control_plane import plane  # noqa: F401 (the fixture)
from load import Load
from test_dataplane import answers, build, wait_until


@pytest.fixture
def failover_dataplane(tmp_path):
    """The embedded default with its own stale timeout (3 s, the default)."""
    yield from started_dataplane(tmp_path, health_manager="heartbeat_timeout = 3\n")


def the_amphora(dataplane):
    amphorae = [a for a in dataplane.openstack("loadbalancer", "amphora", "list", "-f", "json")
                if a["status"] != "DELETED"]
    assert len(amphorae) == 1, amphorae
    return dataplane.openstack("loadbalancer", "amphora", "show", amphorae[0]["id"], "-f", "json")


def in_krater_mounts(dataplane, *cmd):
    """Runs `cmd` in krater's mount namespace, where the amphorae's namespaces are
    mounted (`krater serve` runs under `ip netns exec`)."""
    return subprocess.run(["nsenter", "-t", str(dataplane.process.pid), "-m", "--", *cmd],
                          capture_output=True, text=True, check=True).stdout


def kill_amphora_processes(dataplane, amphora):
    """kill -9 of every process of the amphora (its agent, HAProxy's master and
    workers); its namespaces and their interfaces (the VIP address with them) stay."""
    pids = [pid for ns in (amphora["compute_id"], amphora["compute_id"] + "-lb")
            for pid in in_krater_mounts(dataplane, "ip", "netns", "pids", ns).split()]
    assert len(pids) >= 3, f"an agent, a HAProxy master and a worker: {pids}"
    for pid in pids:
        subprocess.run(["kill", "-9", pid], check=True)
    return "kill its agent and HAProxy"


def delete_amphora_namespaces(dataplane, amphora):
    """The amphora vanishes: its processes killed, its namespaces (and with them its
    interfaces) deleted. The namespaces are mounted in krater's mount namespace."""
    kill_amphora_processes(dataplane, amphora)
    for ns in (amphora["compute_id"], amphora["compute_id"] + "-lb"):
        in_krater_mounts(dataplane, "ip", "netns", "delete", ns)
    return "delete its namespaces"


def replaced(dataplane, old):
    """The load balancer ACTIVE with one ALLOCATED amphora that is not `old` (shown),
    else None."""
    lb = dataplane.openstack("loadbalancer", "show", "lb1", "-f", "json")
    if lb["provisioning_status"] != "ACTIVE":
        return None
    live = [a for a in dataplane.openstack("loadbalancer", "amphora", "list", "--loadbalancer",
                                           lb["id"], "-f", "json")
            if a["status"] not in ("DELETED", "PENDING_DELETE")]
    if len(live) != 1 or live[0]["id"] == old["id"] or live[0]["status"] != "ALLOCATED":
        return None
    return dataplane.openstack("loadbalancer", "amphora", "show", live[0]["id"], "-f", "json")


@pytest.mark.parametrize("fault", [kill_amphora_processes, delete_amphora_namespaces])
def test_a_dead_single_amphora_is_replaced_on_the_same_vip(failover_dataplane, fault):
    dataplane = failover_dataplane
    vip, _ = build(dataplane)
    old = the_amphora(dataplane)
    with Load(dataplane, vip) as load:
        what = fault(dataplane, old)
        # From the moment the fault is complete: a request sent before was answered
        # by the old amphora.
        fault_at = time.time()
        new = wait_until(lambda: replaced(dataplane, old), 90, "a new amphora")
        ready_at = time.time()
        wait_until(lambda: load.first_answer_after(fault_at), 30, "an answer after the fault")
    answered_at = load.first_answer_after(fault_at)
    print(f"\nSINGLE, {what}: first answer {answered_at - fault_at:.2f} s after the fault, "
          f"ACTIVE with a healthy amphora after {ready_at - fault_at:.2f} s, "
          f"{load.failed_after(fault_at)} failed requests")
    assert new["ha_ip"] == vip and new["role"] == "STANDALONE"
    assert set(answers(dataplane, vip)) == {"m1", "m2"}
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert old["compute_id"] not in namespaces, "the dead amphora was removed"
    assert dataplane.openstack("loadbalancer", "show", "lb1", "-f", "json")[
        "vip_address"] == vip


@pytest.mark.parametrize("target", ["loadbalancer", "amphora"])
def test_an_operator_failover_replaces_a_healthy_single_amphora(failover_dataplane, target):
    dataplane = failover_dataplane
    vip, _ = build(dataplane)
    old = the_amphora(dataplane)
    with Load(dataplane, vip) as load:
        asked_at = time.time()
        if target == "loadbalancer":
            dataplane.openstack("loadbalancer", "failover", "lb1")
        else:
            dataplane.openstack("loadbalancer", "amphora", "failover", old["id"])
        new = wait_until(lambda: replaced(dataplane, old), 90, "a new amphora")
        ready_at = time.time()
    print(f"\nSINGLE, PUT {target} failover: ACTIVE with the new amphora after "
          f"{ready_at - asked_at:.2f} s, {load.failed_after(asked_at)} failed requests")
    assert new["ha_ip"] == vip
    assert set(answers(dataplane, vip)) == {"m1", "m2"}


def amphorae_of(clients, lb):
    """The amphorae of the load balancer the amphora API lists."""
    lb_id = clients.openstack("loadbalancer", "show", lb, "-f", "json")["id"]
    return [a for a in clients.openstack("loadbalancer", "amphora", "list", "-f", "json")
            if a["loadbalancer_id"] == lb_id]


def test_two_health_managers_fail_a_dead_amphora_over_once(plane):
    """Both health managers receive every heartbeat (controller_ip_port_list names
    both); when the amphora dies, both see it stale, and one failover runs."""
    both = ('heartbeat_timeout = 3\ncontroller_ip_port_list = '
            '["198.19.0.1:5555", "198.19.0.1:5556"]\n')
    api = plane.start_api(health_manager=both)
    worker = plane.start("worker", "worker", health_manager=both)
    managers = [plane.start("health-manager", f"health-manager-{port}",
                            health_manager=both + f"bind_port = {port}\n")
                for port in (5555, 5556)]
    api.openstack("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id",
                  "public-subnet", "--wait")
    api.openstack("loadbalancer", "listener", "create", "--name", "listener1", "--protocol",
                  "HTTP", "--protocol-port", "80", "--wait", "lb1")
    api.openstack("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm",
                  "ROUND_ROBIN", "--listener", "listener1", "--protocol", "HTTP", "--wait")
    member = plane.run.add_member("m1", "198.18.2.20")
    api.openstack("loadbalancer", "member", "create", "--subnet-id", "private-subnet",
                  "--address", member["address"], "--protocol-port", "80", "--wait", "pool1")
    vip = api.openstack("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]

    def health():
        done = subprocess.run([KRATER_BIN, "--config", str(plane.config()), "health"],
                              capture_output=True, text=True, check=True)
        rows = [line.split() for line in done.stdout.splitlines()[1:]]
        return {row[0]: int(row[5]) for row in rows}  # name → accepted

    wait_until(lambda: len(health()) == 2 and all(n > 0 for n in health().values()), 60,
               "both health managers to accept heartbeats")
    (old,) = amphorae_of(api, "lb1")
    old = api.openstack("loadbalancer", "amphora", "show", old["id"], "-f", "json")
    # The plane's roles share the test's mounts: `ip netns` sees the amphora.
    pids = [pid for ns in (old["compute_id"], old["compute_id"] + "-lb")
            for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                      text=True, check=True).stdout.split()]
    assert len(pids) >= 3, pids
    for pid in pids:
        subprocess.run(["kill", "-9", pid], check=True)

    def replaced():
        lb = api.openstack("loadbalancer", "show", "lb1", "-f", "json")
        live = [a for a in amphorae_of(api, "lb1") if a["status"] == "ALLOCATED"]
        return lb["provisioning_status"] == "ACTIVE" and live and live[0]["id"] != old["id"]

    wait_until(replaced, 90, "the dead amphora replaced")
    replaced_at = time.time()
    wait_until(lambda: api.curl(f"http://{vip}/", timeout=1) == "m1", 30, "the VIP answering")
    print(f"\nthe VIP answered {time.time() - replaced_at:.2f} s after ACTIVE")
    # Longer than a stale timeout and a look more: no second failover follows.
    time.sleep(5)
    started = [line for m in managers for line in m.log().splitlines()
               if "failing them over" in line]
    assert len(started) == 1, started
    runs = [line for line in worker.log().splitlines()
            if "running flow" in line and "FailoverAmphora" in line]
    assert len(runs) == 1, runs


@pytest.fixture
def storm_dataplane(tmp_path):
    """The embedded default whose storm guard holds as soon as two amphorae are
    silent at once."""
    yield from started_dataplane(
        tmp_path, health_manager="heartbeat_timeout = 3\nfailover_threshold = 1\n")


def test_the_storm_guard_fails_none_over_when_the_health_manager_hears_none(storm_dataplane):
    """Heartbeats dropped on the way to the health manager (nftables in the host
    namespace, where it listens): with more amphorae silent than failover_threshold,
    none is failed over; they are FAILOVER_STOPPED, the VIPs keep serving, and once
    heartbeats return all are watched again with nothing lost."""
    dataplane = storm_dataplane
    vip, _ = build(dataplane)
    dataplane.openstack("loadbalancer", "create", "--name", "lb2", "--vip-subnet-id",
                        "public-subnet", "--wait")
    before = sorted(a["id"] for a in dataplane.openstack(
        "loadbalancer", "amphora", "list", "-f", "json"))
    assert len(before) == 2

    def statuses():
        return sorted(a["status"] for a in dataplane.openstack(
            "loadbalancer", "amphora", "list", "-f", "json"))

    nft = ["ip", "netns", "exec", dataplane.run.host, "nft"]
    subprocess.run(nft + ["add table inet kt_storm; "
                          "add chain inet kt_storm input { type filter hook input priority 0; }; "
                          "add rule inet kt_storm input udp dport 5555 drop"], check=True)
    try:
        wait_until(lambda: statuses() == ["FAILOVER_STOPPED"] * 2, 60,
                   "both amphorae FAILOVER_STOPPED")
        assert set(answers(dataplane, vip)) == {"m1", "m2"}, "the data plane serves on"
        for lb in ("lb1", "lb2"):
            assert dataplane.openstack("loadbalancer", "show", lb, "-f", "json")[
                "provisioning_status"] == "ACTIVE"
    finally:
        subprocess.run(nft + ["delete table inet kt_storm"], check=True)
    wait_until(lambda: statuses() == ["ALLOCATED"] * 2, 60, "both amphorae watched again")
    time.sleep(5)
    after = sorted(a["id"] for a in dataplane.openstack(
        "loadbalancer", "amphora", "list", "-f", "json"))
    assert after == before, "no amphora was failed over"
    assert statuses() == ["ALLOCATED"] * 2
    assert set(answers(dataplane, vip)) == {"m1", "m2"}
