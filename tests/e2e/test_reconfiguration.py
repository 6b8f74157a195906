"""Seamless reconfiguration: under continuous load through the VIP, 200 configuration
changes (members added, reweighted and removed, L7 policies and rules made, edited
and deleted, a listener added) fail no request. Every change is a REST call waited
for until the load balancer is ACTIVE again, so each one reloads HAProxy."""
import time

from test_failover import Load

CHANGES = 200


def wait_active(dataplane, lb_id):
    deadline = time.time() + 60
    while time.time() < deadline:
        lb = dataplane.api("GET", f"/v2/lbaas/loadbalancers/{lb_id}")["loadbalancer"]
        if lb["provisioning_status"] == "ACTIVE":
            return
        assert lb["provisioning_status"] != "ERROR", lb
        time.sleep(0.05)
    raise AssertionError("the load balancer stayed PENDING")


def test_200_changes_under_load_fail_no_request(dataplane):
    os, api = dataplane.openstack, dataplane.api
    run = dataplane.run
    lb = os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet",
            "--wait", "-f", "json")
    vip = lb["vip_address"]
    listener = os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol",
                  "HTTP", "--protocol-port", "80", "--wait", "-f", "json", "lb1")
    pools = {}
    for n, options in ((1, ["--listener", "listener1"]), (2, ["--loadbalancer", "lb1"])):
        pools[n] = os("loadbalancer", "pool", "create", "--name", f"pool{n}", "--lb-algorithm",
                      "ROUND_ROBIN", "--protocol", "HTTP", *options, "--wait", "-f", "json")["id"]
    members = {name: run.add_member(name, f"198.18.2.{20 + i}")
               for i, name in enumerate(("m1", "m2", "m3", "m4"))}
    for name, pool in (("m1", 1), ("m2", 1), ("m4", 2)):
        os("loadbalancer", "member", "create", "--name", name, "--subnet-id", "private-subnet",
           "--address", members[name]["address"], "--protocol-port", "80", "--wait",
           f"pool{pool}")
    m1 = os("loadbalancer", "member", "show", "pool1", "m1", "-f", "json")
    member_subnet, m1 = m1["subnet_id"], m1["id"]

    def change(method, path, body=None):
        answer = api(method, path, body)
        wait_active(dataplane, lb["id"])
        return answer

    policy = rule = added = None
    made = 0
    started = time.time()
    with Load(dataplane, vip, members=("m1", "m2", "m3", "m4")) as load:
        while made < CHANGES:
            step = made % 8
            if step == 0:
                added = change("POST", f"/v2/lbaas/pools/{pools[1]}/members", {"member": {
                    "address": members["m3"]["address"], "protocol_port": 80,
                    "subnet_id": member_subnet}})["member"]["id"]
            elif step == 1:
                change("PUT", f"/v2/lbaas/pools/{pools[1]}/members/{added}",
                       {"member": {"weight": 1 + made % 5}})
            elif step == 2:
                change("PUT", f"/v2/lbaas/pools/{pools[1]}/members/{m1}",
                       {"member": {"weight": 1 + made % 7}})
            elif step == 3:
                # Only requests for /never would reach pool2: the load asks for /.
                policy = change("POST", "/v2/lbaas/l7policies", {"l7policy": {
                    "listener_id": listener["id"], "action": "REDIRECT_TO_POOL",
                    "redirect_pool_id": pools[2], "position": 1}})["l7policy"]["id"]
            elif step == 4:
                rule = change("POST", f"/v2/lbaas/l7policies/{policy}/rules", {"rule": {
                    "type": "PATH", "compare_type": "STARTS_WITH", "value": "/never"}})["rule"]["id"]
            elif step == 5:
                change("PUT", f"/v2/lbaas/l7policies/{policy}/rules/{rule}",
                       {"rule": {"value": f"/never-{made}"}})
            elif step == 6:
                change("DELETE", f"/v2/lbaas/l7policies/{policy}")
            else:
                change("DELETE", f"/v2/lbaas/pools/{pools[1]}/members/{added}")
            made += 1
            if made == CHANGES // 2:
                change("POST", "/v2/lbaas/listeners", {"listener": {
                    "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 8080,
                    "default_pool_id": pools[1]}})
                made += 1
        time.sleep(1)
    print(f"reconfiguration: {made} changes in {time.time() - started:.0f} s, "
          f"{load.failures_after(started)}")
    assert load.failed_after(started) == 0, load.failures_after(started)
    answered = {what for sent, ok, what in load.results if ok and sent > started}
    assert {"m1", "m2", "m3"} <= answered, answered
