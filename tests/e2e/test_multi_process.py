"""The control plane as separate processes sharing one database, with real amphorae:
two `krater api`, two `krater worker`, one `krater health-manager` and one
`krater housekeeping`, as an operator runs them on several hosts: on one PostgreSQL
when KRATER_E2E_POSTGRES_URL names a server (the e2e-pg stage of scripts/test.sh), else
on one SQLite file."""
import re
import threading
import time

from control_plane import plane  # noqa: F401 (the fixture)
from test_dataplane import build, wait_until
from test_saga import Scenario


def start_every_role(plane):
    apis = [plane.start_api("api-1", 9876), plane.start_api("api-2", 9877)]
    for name in ("worker-1", "worker-2"):
        plane.start("worker", name)
    plane.start("health-manager", "health-manager")
    plane.start("housekeeping", "housekeeping")
    return apis


def test_the_operator_workflow_alternates_between_two_apis_of_one_control_plane(plane):
    api1, api2 = start_every_role(plane)
    run = plane.run
    api1.openstack("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id",
                   "public-subnet", "--wait")
    api2.openstack("loadbalancer", "listener", "create", "--name", "listener1", "--protocol",
                   "HTTP", "--protocol-port", "80", "--wait", "lb1")
    api1.openstack("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm",
                   "ROUND_ROBIN", "--listener", "listener1", "--protocol", "HTTP", "--wait")
    api2.openstack("loadbalancer", "healthmonitor", "create", "--delay", "1",
                   "--max-retries", "2", "--timeout", "1", "--type", "HTTP", "--url-path",
                   "/healthcheck", "--wait", "pool1")
    members = [run.add_member("m1", "198.18.2.20"), run.add_member("m2", "198.18.2.21")]
    for api, member in zip((api1, api2), members):
        api.openstack("loadbalancer", "member", "create", "--name", member["name"],
                      "--subnet-id", "private-subnet", "--address", member["address"],
                      "--protocol-port", "80", "--wait", "pool1")
    vip = api2.openstack("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]
    assert {api1.curl(f"http://{vip}/") for _ in range(20)} == {"m1", "m2"}

    def member_status(api, name):
        return api.openstack("loadbalancer", "member", "show", "pool1", name, "-f",
                             "json")["operating_status"]

    wait_until(lambda: member_status(api1, "m2") == "ONLINE", 60, "m2 ONLINE")
    run.stop_member(members[1])
    wait_until(lambda: member_status(api2, "m2") == "ERROR", 60, "m2 ERROR")
    assert {api1.curl(f"http://{vip}/") for _ in range(10)} == {"m1"}
    api1.openstack("loadbalancer", "delete", "--cascade", "--wait", "lb1")


def haproxy_servers(plane, lb_id):
    """The servers of the HAProxy configuration the amphora runs: id → (address:port,
    weight, disabled)."""
    configs = list(plane.run.base_path.glob(f"*/bundle/{lb_id}/haproxy.cfg"))
    assert len(configs) == 1, configs
    servers = {}
    for line in configs[0].read_text().splitlines():
        found = re.match(r"\s+server (\S+) (\S+) weight (\d+)(.*)", line)
        if found:
            servers[found[1]] = (found[2], int(found[3]), " disabled" in found[4])
    return servers


def test_member_changes_through_both_apis_leave_the_amphora_as_the_api_shows(plane):
    apis = start_every_role(plane)
    scenario = Scenario(apis[0])
    lb = scenario.build(with_pool=True)
    scenario.wait_active([lb])
    lb_id = scenario.lb(lb)["id"]
    pool_id = scenario.get(f"/v2/lbaas/pools?name={lb}-p")["pools"][0]["id"]
    subnet = scenario.subnet_id("private-subnet")
    members = f"/v2/lbaas/pools/{pool_id}/members"
    refused = []

    def send(api, method, path, body=None):
        """One change, sent again while the load balancer is busy (409), as a client
        that waits for its turn does."""
        deadline = time.time() + 120
        while True:
            answer = api.api(method, path, body) or {}
            busy = answer.get("faultcode") == "Client" and "immutable" in answer.get(
                "faultstring", "")
            if not busy:
                if answer.get("faultcode") == "Server":
                    refused.append(answer)
                return answer
            assert time.time() < deadline, f"{method} {path} stayed 409"
            time.sleep(0.05)

    def client(api, offset):
        made = []
        for i in range(offset, 32, 2):
            address = f"198.18.2.{30 + i}"
            member = send(api, "POST", members, {"member": {
                "address": address, "protocol_port": 80, "subnet_id": subnet}})["member"]
            made.append(member["id"])
            if i % 3 == 0:
                send(api, "PUT", f"{members}/{member['id']}", {"member": {"weight": 7}})
            if i % 4 == 0:
                send(api, "DELETE", f"{members}/{made.pop(0)}")

    threads = [threading.Thread(target=client, args=(api, offset))
               for offset, api in enumerate(apis)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not refused, refused
    scenario.wait_active([lb])

    shown = {m["id"]: (f"{m['address']}:{m['protocol_port']}", m["weight"],
                       not m["admin_state_up"])
             for m in scenario.get(members)["members"]}
    assert all(m["provisioning_status"] == "ACTIVE" for m in scenario.get(members)["members"])
    assert haproxy_servers(plane, lb_id) == shown


def test_parallel_creates_and_member_updates_beside_heartbeats_lose_no_status(plane):
    """100 load balancer creates (provider noop_driver: the database, not amphorae, is
    what is contended) in parallel across both APIs, while a real load balancer's
    members go down and up 20 times (statuses from heartbeats, written by the health
    manager) during 20 member updates: no 5xx, every load balancer ACTIVE, and the
    statuses end as the members really are."""
    apis = start_every_role(plane)
    run = plane.run
    scenario = Scenario(apis[0])
    api1, api2 = apis
    api1.openstack("loadbalancer", "create", "--name", "real", "--vip-subnet-id",
                   "public-subnet", "--wait")
    api1.openstack("loadbalancer", "listener", "create", "--name", "real-l", "--protocol",
                   "HTTP", "--protocol-port", "80", "--wait", "real")
    api1.openstack("loadbalancer", "pool", "create", "--name", "real-p", "--lb-algorithm",
                   "ROUND_ROBIN", "--listener", "real-l", "--protocol", "HTTP", "--wait")
    api1.openstack("loadbalancer", "healthmonitor", "create", "--delay", "1",
                   "--max-retries", "1", "--timeout", "1", "--type", "HTTP", "--url-path",
                   "/healthcheck", "--wait", "real-p")
    members = [run.add_member("m1", "198.18.2.20"), run.add_member("m2", "198.18.2.21")]
    for member in members:
        api1.openstack("loadbalancer", "member", "create", "--name", member["name"],
                       "--subnet-id", "private-subnet", "--address", member["address"],
                       "--protocol-port", "80", "--wait", "real-p")
    pool_id = scenario.get("/v2/lbaas/pools?name=real-p")["pools"][0]["id"]
    subnet = scenario.subnet_id("public-subnet")

    def member(name):
        return scenario.get(f"/v2/lbaas/pools/{pool_id}/members?name={name}")["members"][0]

    wait_until(lambda: member("m2")["operating_status"] == "ONLINE", 60, "m2 ONLINE")
    server_errors = []

    def create(i):
        api = apis[i % 2]
        answer = api.api("POST", "/v2/lbaas/loadbalancers", {"loadbalancer": {
            "name": f"many-{i}", "vip_subnet_id": subnet, "provider": "noop_driver"}})
        if "loadbalancer" not in answer:
            server_errors.append(answer)

    def update_members():
        for i in range(20):
            api = apis[i % 2]
            m = member("m1")
            deadline = time.time() + 60
            while True:
                answer = api.api("PUT", f"/v2/lbaas/pools/{pool_id}/members/{m['id']}",
                                 {"member": {"weight": 1 + i % 5}}) or {}
                if answer.get("faultcode") == "Server":
                    server_errors.append(answer)
                if "member" in answer or answer.get("faultcode") == "Server":
                    break
                assert time.time() < deadline, answer
                time.sleep(0.05)

    def flap_m2():
        for i in range(20):
            if i % 2 == 0:
                run.stop_member(members[1])
                wanted = "ERROR"
            else:
                run.start_member(members[1])
                wanted = "ONLINE"
            wait_until(lambda: member("m2")["operating_status"] == wanted, 60,
                       f"m2 {wanted} (change {i + 1})")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(100)]
    threads += [threading.Thread(target=update_members), threading.Thread(target=flap_m2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not server_errors, server_errors

    lbs = scenario.get("/v2/lbaas/loadbalancers")["loadbalancers"]
    assert len(lbs) == 101
    wait_until(lambda: all(lb["provisioning_status"] == "ACTIVE" for lb in
                           scenario.get("/v2/lbaas/loadbalancers")["loadbalancers"]), 120,
               "every load balancer ACTIVE")
    # m2 ends up (the 20th change started it), m1 was never stopped.
    wait_until(lambda: member("m2")["operating_status"] == "ONLINE", 30, "m2 ONLINE")
    assert member("m1")["operating_status"] == "ONLINE"
    assert member("m1")["provisioning_status"] == "ACTIVE"
    assert member("m1")["weight"] == 1 + 19 % 5


def test_a_worker_takes_the_spare_a_housekeeping_process_built(plane):
    """A spare is built by `krater housekeeping` and taken by a `krater worker`, each a
    process of its own (here each in a mount namespace of its own, as `ip netns exec`
    gives them: the worker names the spare's namespaces again before it wires them)."""
    spares = "heartbeat_timeout = 10\n[house_keeping]\nspare_amphora_pool_size = 1\n" \
             "spare_check_interval = 1\n"
    api = plane.start_api("api-1", 9876)
    plane.start("worker", "worker-1")
    plane.start("health-manager", "health-manager")
    plane.start("housekeeping", "housekeeping", health_manager=spares)

    def ready_spares():
        return [a["id"] for a in api.api("GET", "/v2/octavia/amphorae")["amphorae"]
                if a["status"] == "READY" and a["loadbalancer_id"] is None]
    (spare,) = wait_until(ready_spares, 60, "a spare ready")
    vip, _ = build(api)
    lb_id = api.openstack("loadbalancer", "show", "lb1", "-f", "json")["id"]
    taken = [a["id"] for a in api.api("GET", f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")
             ["amphorae"]]
    assert taken == [spare]
    assert {api.curl(f"http://{vip}/") for _ in range(20)} == {"m1", "m2"}
