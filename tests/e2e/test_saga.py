"""The saga engine across processes, with real amphorae: `krater api` and `krater worker`
processes on one database, one worker ended, failed or stopped at a chosen task by a
failpoint (KRATER_FAILPOINTS, compiled into krater, off unless set).

- crash table: for every task of every flow, the worker exits at that task (before it,
  and after its side effects but before its progress commits); another worker finishes
  the flow; nothing stays PENDING_*, and no side effect exists twice;
- revert table: every task fails for good; the objects end in ERROR, and what the flow
  had made (amphora namespaces and processes, ports) is gone from host and database;
- fencing: a worker stopped past its lease and then continued writes nothing."""
import os
import signal
import time

from control_plane import FAILPOINT_EXIT_CODE, plane  # noqa: F401 (the fixture)
from test_dataplane import wait_until

FLOWS = {
    "create_load_balancer": ["create_amphora", "boot_amphora", "plug_vip",
                             "plug_member_networks", "apply_config", "mark_active"],
    "apply_children": ["plug_member_networks", "apply_config", "mark_active"],
    "update_load_balancer": ["apply_config", "mark_active"],
    "delete_load_balancer": ["remove_amphora", "mark_deleted"],
    "failover_load_balancer": ["create_amphora", "boot_amphora", "remove_amphora", "plug_vip",
                               "plug_member_networks", "apply_config", "mark_active"],
}
# The flows that start from a load balancer with a listener and a pool.
WITH_POOL = ("apply_children", "failover_load_balancer")


class Scenario:
    """Load balancers in every state a flow starts from, and the checks of what a
    finished flow must leave. Requests that start flows go through the openstack CLI;
    checks read the REST API directly (many per case, the CLI is slow to start)."""

    def __init__(self, clients):
        self.clients, self.os, self.serial = clients, clients.openstack, 0

    def get(self, path):
        return self.clients.api("GET", path)

    def name(self, kind):
        self.serial += 1
        return f"{kind}{self.serial}"

    def build(self, with_pool):
        """Starts a load balancer made in one request (with a listener and a pool when
        `with_pool`); returns its name."""
        name = self.name("lb")
        body = {"name": name, "vip_subnet_id": self.subnet_id("public-subnet")}
        if with_pool:
            body["listeners"] = [{"name": f"{name}-l", "protocol": "HTTP", "protocol_port": 80,
                                  "default_pool": {"name": f"{name}-p", "protocol": "HTTP",
                                                   "lb_algorithm": "ROUND_ROBIN"}}]
        answer = self.clients.api("POST", "/v2/lbaas/loadbalancers", {"loadbalancer": body})
        assert "loadbalancer" in answer, answer
        return name

    def subnet_id(self, name):
        return self.get(f"/network/v2.0/subnets?name={name}")["subnets"][0]["id"]

    def wait_active(self, names):
        wait_until(lambda: all(self.lb_status(n) == "ACTIVE" for n in names), 180,
                   f"{len(names)} load balancers ACTIVE")

    def lb(self, name):
        found = self.get(f"/v2/lbaas/loadbalancers?name={name}")["loadbalancers"]
        return found[0] if found else None

    def lb_status(self, name):
        lb = self.lb(name)
        return lb["provisioning_status"] if lb else None

    def amphora_ids(self, lb):
        lb_id = self.lb(lb)["id"]
        return {a["id"] for a in self.get(f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")[
            "amphorae"] if a["status"] != "DELETED"}

    def member_status(self, pool, member):
        pool_id = self.get(f"/v2/lbaas/pools?name={pool}")["pools"][0]["id"]
        found = self.get(f"/v2/lbaas/pools/{pool_id}/members?name={member}")["members"]
        return found[0]["provisioning_status"] if found else None

    def trigger(self, flow, lb):
        """Makes the request that runs `flow` (on `lb` when it needs one); returns the
        load balancer's name and the check that the flow has ended (`ok`: as a
        success; else as a failure)."""
        os_ = self.os
        if flow == "create_load_balancer":
            name = self.name("lb")
            os_("loadbalancer", "create", "--name", name, "--vip-subnet-id", "public-subnet")
            return name, lambda ok: self.lb_status(name) == ("ACTIVE" if ok else "ERROR")
        if flow == "apply_children":
            member = self.name("m")
            os_("loadbalancer", "member", "create", "--name", member, "--subnet-id",
                "private-subnet", "--address", f"198.18.2.{100 + self.serial}",
                "--protocol-port", "80", f"{lb}-p")
            return lb, lambda ok: (self.lb_status(lb) == "ACTIVE" and self.member_status(
                f"{lb}-p", member) == ("ACTIVE" if ok else "ERROR"))
        if flow == "update_load_balancer":
            os_("loadbalancer", "set", "--description", f"update {self.serial}", lb)
            return lb, lambda ok: self.lb_status(lb) == ("ACTIVE" if ok else "ERROR")
        if flow == "delete_load_balancer":
            os_("loadbalancer", "delete", lb)
            return lb, lambda ok: self.lb_status(lb) == (None if ok else "ERROR")
        if flow == "failover_load_balancer":
            before = self.amphora_ids(lb)
            os_("loadbalancer", "failover", lb)

            def ended(ok):
                if not ok:
                    return self.lb_status(lb) == "ERROR"
                now = self.amphora_ids(lb)
                return self.lb_status(lb) == "ACTIVE" and now and not now & before
            return lb, ended
        raise ValueError(flow)

    def check_nothing_pending_and_nothing_twice(self, plane):
        lbs = self.get("/v2/lbaas/loadbalancers")["loadbalancers"]
        pools = self.get("/v2/lbaas/pools")["pools"]
        objects = lbs + self.get("/v2/lbaas/listeners")["listeners"] + pools
        for pool in pools:
            objects += self.get(f"/v2/lbaas/pools/{pool['id']}/members")["members"]
        pending = [o for o in objects if o["provisioning_status"].startswith("PENDING")]
        assert not pending, pending
        amphorae = [a for a in self.get("/v2/octavia/amphorae")["amphorae"]
                    if a["status"] != "DELETED"]
        ports = self.get("/network/v2.0/ports")["ports"]
        for lb in lbs:
            mine = [a for a in amphorae if a["loadbalancer_id"] == lb["id"]]
            if lb["provisioning_status"] == "ACTIVE":
                assert len(mine) == 1, f"{lb['name']} has {len(mine)} amphorae"
            vip_ports = [p for p in ports if p["device_id"] == lb["id"]]
            assert len(vip_ports) == 1, f"{lb['name']} has {len(vip_ports)} VIP ports"
        live = {a["id"] for a in amphorae}
        owners = [(p["device_id"], p["fixed_ips"][0]["subnet_id"]) for p in ports
                  if p["device_owner"].startswith("krater:amphora")]
        assert len(owners) == len(set(owners)), "an amphora has two ports on one subnet"
        assert {device for device, _ in owners} <= live, "ports of an amphora that is gone"
        namespaces = plane.amphora_namespaces()
        assert len(namespaces) == 2 * len(live), (namespaces, live)


def settle(check, ok, what, timeout=90):
    wait_until(lambda: check(ok), timeout, what)


def starting_points(plane, scenario, cases):
    """The load balancer each case's flow starts from (None for a create), built at
    once by a worker without failpoints."""
    builder = plane.start("worker", "builder")
    starts = {}
    for case in cases:
        flow = case[0]
        if flow != "create_load_balancer":
            starts[case] = scenario.build(with_pool=flow in WITH_POOL)
    scenario.wait_active([n for n in starts.values()])
    builder.terminate()
    return starts


def test_crash_table_every_task_of_every_flow_resumes_on_another_worker(plane):
    scenario = Scenario(plane.start_api())
    cases = [(flow, task, action) for flow, tasks in FLOWS.items() for task in tasks
             for action in ("exit", "exit-after")]
    starts = starting_points(plane, scenario, cases)

    table = []
    for case in cases:
        flow, task, action = case
        failing = plane.start("worker", f"crash-{flow}-{task}-{action}",
                              env={"KRATER_FAILPOINTS": f"{flow}.{task}={action}"})
        _, settled = scenario.trigger(flow, starts.get(case))
        code = failing.wait_exit(120)
        exited_at = time.time()
        assert code == FAILPOINT_EXIT_CODE, failing.log()[-3000:]
        assert f"failpoint hit: {flow}.{task}" in failing.log()
        survivor = plane.start("worker", f"resume-{flow}-{task}-{action}")
        settle(settled, True, f"{flow} to finish after {task} {action}")
        done_in = time.time() - exited_at
        resumed_at = survivor.logged_at("running flow")
        assert resumed_at, survivor.log()[-2000:]
        survivor.terminate()
        scenario.check_nothing_pending_and_nothing_twice(plane)
        table.append((flow, task, action, "finished by the other worker",
                      resumed_at - exited_at, done_in))

    print("\ncrash table: flow × task → outcome (seconds from the exit to the other worker's"
          " resume, and to the flow done)")
    for flow, task, action, outcome, resumed, done in table:
        print(f"  {flow:22} {task:22} {action:10} → {outcome}: resumed {resumed:.1f} s,"
              f" done {done:.1f} s")


def test_revert_table_every_task_failing_leaves_error_and_nothing_made(plane):
    scenario = Scenario(plane.start_api())
    clients = scenario.clients
    cases = [(flow, task) for flow, tasks in FLOWS.items() for task in tasks]
    starts = starting_points(plane, scenario, cases)

    table = []
    for case in cases:
        flow, task = case
        failing = plane.start("worker", f"revert-{flow}-{task}",
                              env={"KRATER_FAILPOINTS": f"{flow}.{task}=fail"})
        lb, settled = scenario.trigger(flow, starts.get(case))
        settle(settled, False, f"{flow} to revert after {task} failed")
        assert f"failpoint hit: {flow}.{task}" in failing.log()
        failing.terminate()
        scenario.check_nothing_pending_and_nothing_twice(plane)
        if flow == "create_load_balancer":
            lb_id = scenario.lb(lb)["id"]
            amphorae = [a for a in scenario.get("/v2/octavia/amphorae")["amphorae"]
                        if a["loadbalancer_id"] == lb_id and a["status"] != "DELETED"]
            assert amphorae == [], f"the failed create left amphorae: {amphorae}"
        table.append((flow, task, scenario.lb_status(lb)))

    # Every load balancer, in ERROR or not, can still be deleted; then nothing is left.
    cleaner = plane.start("worker", "cleaner")
    lbs = scenario.get("/v2/lbaas/loadbalancers")["loadbalancers"]
    for lb in lbs:
        clients.api("DELETE", f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true")
    wait_until(lambda: not scenario.get("/v2/lbaas/loadbalancers")["loadbalancers"], 120,
               f"{len(lbs)} load balancers deleted")
    cleaner.terminate()
    assert plane.amphora_namespaces() == []
    assert clients.api("GET", "/network/v2.0/ports")["ports"] == []

    print("\nrevert table: flow × failing task → load balancer status")
    for flow, task, status in table:
        print(f"  {flow:22} {task:22} → {status}")


def test_a_worker_stopped_past_its_lease_writes_nothing_after_another_took_its_job(plane):
    clients = plane.start_api()
    scenario = Scenario(clients)
    stalled = plane.start("worker", "stalled", env={
        "KRATER_FAILPOINTS": "create_load_balancer.apply_config=stop"})
    clients.openstack("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id",
                      "public-subnet")
    wait_until(stalled.is_stopped, 60, "the worker to stop itself at apply_config")
    assert "failpoint hit: create_load_balancer.apply_config" in stalled.log()

    taker = plane.start("worker", "taker")
    wait_until(lambda: scenario.lb_status("lb1") == "ACTIVE", 60,
               "the other worker to finish the create")
    taker.terminate()
    before = plane.snapshot()

    os.kill(stalled.pid, signal.SIGCONT)
    wait_until(lambda: "LeaseLost" in stalled.log(), 30, "the stalled worker to see its lease lost")
    assert plane.snapshot() == before, "the worker that lost its lease wrote to the database"
    scenario.check_nothing_pending_and_nothing_twice(plane)
    assert scenario.lb_status("lb1") == "ACTIVE"
