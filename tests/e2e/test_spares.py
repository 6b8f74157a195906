"""The spares pool on the embedded default (`[house_keeping] spare_amphora_pool_size =
2`): housekeeping keeps two amphorae booted with no load balancer; a create and a
failover take them instead of booting amphorae, and the pool is filled again. A spare
that goes silent is replaced."""
import subprocess
import time

import pytest

from conftest import started_dataplane
from test_active_standby import ACTIVE_STANDBY
from test_dataplane import answers, build, wait_until
from test_failover import in_krater_mounts

POOL = "[house_keeping]\nspare_amphora_pool_size = 2\nspare_check_interval = 1\n"


@pytest.fixture(params=["SINGLE", "ACTIVE_STANDBY"])
def with_spares(request, tmp_path):
    topology = ACTIVE_STANDBY if request.param == "ACTIVE_STANDBY" else ""
    yield from started_dataplane(tmp_path, health_manager="heartbeat_timeout = 3\n",
                                 sections=POOL + topology)


def all_amphorae(dataplane):
    return dataplane.api("GET", "/v2/octavia/amphorae")["amphorae"]


def ready_spares(dataplane):
    """The ids of the READY amphorae that serve no load balancer."""
    return {a["id"] for a in all_amphorae(dataplane)
            if a["status"] == "READY" and a["loadbalancer_id"] is None}


def full_pool(dataplane, without=()):
    """Waits until the pool holds two READY spares, none of `without`; returns them."""
    return wait_until(lambda: (lambda s: s if len(s) == 2 and not s & set(without) else None)(
        ready_spares(dataplane)), 60, "two spares ready")


def amphorae_of_lb1(dataplane):
    lb_id = dataplane.openstack("loadbalancer", "show", "lb1", "-f", "json")["id"]
    return [a for a in all_amphorae(dataplane)
            if a["loadbalancer_id"] == lb_id and a["status"] != "DELETED"]


def test_a_create_and_a_failover_take_spares_and_the_pool_is_refilled(with_spares):
    dataplane = with_spares
    spares = full_pool(dataplane)
    # A spare is a booted amphora of no load balancer: no role, no VIP, a management
    # address its agent answers on.
    for amphora in all_amphorae(dataplane):
        assert amphora["role"] is None and amphora["ha_ip"] is None, amphora
        assert amphora["lb_network_ip"], amphora

    created_at = time.time()
    vip, _ = build(dataplane)
    taken = {a["id"] for a in amphorae_of_lb1(dataplane)}
    wanted = 2 if "ACTIVE_STANDBY" in dataplane.config.read_text() else 1
    assert len(taken) == wanted and taken <= spares, (taken, spares)
    assert set(answers(dataplane, vip)) == {"m1", "m2"}
    refilled = full_pool(dataplane, without=taken)
    print(f"\nspares {sorted(spares)} -> lb1 took {sorted(taken)}; pool refilled with "
          f"{sorted(refilled)} {time.time() - created_at:.1f} s after the create began")

    # A failover takes a spare too.
    old = sorted(taken)[0]
    dataplane.openstack("loadbalancer", "amphora", "failover", old)
    wait_until(lambda: dataplane.openstack("loadbalancer", "show", "lb1", "-f", "json")
               ["provisioning_status"] == "ACTIVE" and old not in
               {a["id"] for a in amphorae_of_lb1(dataplane)}, 60, "the amphora replaced")
    replacement = {a["id"] for a in amphorae_of_lb1(dataplane)} - taken
    assert len(replacement) == 1 and replacement <= refilled, (replacement, refilled)
    assert set(answers(dataplane, vip)) == {"m1", "m2"}
    full_pool(dataplane, without=taken | replacement)


@pytest.mark.parametrize("with_spares", ["SINGLE"], indirect=True)
def test_a_silent_spare_is_replaced(with_spares):
    """Spares are the same whatever the topology: one run is enough."""
    dataplane = with_spares
    spares = full_pool(dataplane)
    dead = sorted(spares)[0]
    compute_id = next(a["compute_id"] for a in all_amphorae(dataplane) if a["id"] == dead)
    # The spare's agent dies with its namespace's processes: its heartbeats stop.
    pids = in_krater_mounts(dataplane, "ip", "netns", "pids", compute_id).split()
    assert pids, "the spare's agent runs"
    for pid in pids:
        subprocess.run(["kill", "-9", pid], check=True)
    killed_at = time.time()
    refilled = full_pool(dataplane, without={dead})
    wait_until(lambda: all(a["id"] != dead or a["status"] == "DELETED"
                           for a in all_amphorae(dataplane)), 30, "the silent spare removed")
    print(f"\nsilent spare {dead} removed and replaced by "
          f"{sorted(refilled - spares)} {time.time() - killed_at:.1f} s after its agent died")
    # What was never a spare's is not touched: no load balancer exists.
    assert all(a["loadbalancer_id"] is None for a in all_amphorae(dataplane))
