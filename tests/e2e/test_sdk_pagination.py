"""openstacksdk walks every collection krater serves one object per page (limit=1),
following the pagination links krater returns, and meets every object exactly once."""
import time

import openstack.config
import openstack.connection


def sdk(krater):
    config = openstack.config.OpenStackConfig(config_files=[str(krater.clouds)])
    return openstack.connection.Connection(config=config.get_one("krater"))


def wait_active(lb_api, lb_id):
    deadline = time.time() + 60
    while lb_api.get_load_balancer(lb_id).provisioning_status != "ACTIVE":
        assert time.time() < deadline, f"load balancer {lb_id} never became ACTIVE"
        time.sleep(0.2)


def ids(objects):
    return [o.id for o in objects]


def test_every_collection_walks_one_object_per_page(krater):
    lb_api = sdk(krater).load_balancer
    subnet = krater.api("GET", "/network/v2.0/subnets?name=public-subnet")["subnets"][0]["id"]
    lbs, listeners, pools, monitors, members = [], [], [], [], {}
    for i in range(3):
        lb = lb_api.create_load_balancer(name=f"lb{i}", vip_subnet_id=subnet)
        lbs.append(lb.id)
        wait_active(lb_api, lb.id)
        for port in (80, 81):
            listener = lb_api.create_listener(loadbalancer_id=lb.id, protocol="HTTP",
                                              protocol_port=port, name=f"l{i}-{port}")
            listeners.append(listener.id)
            wait_active(lb_api, lb.id)
            pool = lb_api.create_pool(listener_id=listener.id, protocol="HTTP",
                                      lb_algorithm="ROUND_ROBIN", name=f"p{i}-{port}")
            pools.append(pool.id)
            wait_active(lb_api, lb.id)
            monitor = lb_api.create_health_monitor(pool_id=pool.id, type="HTTP", delay=5,
                                                   timeout=3, max_retries=3)
            monitors.append(monitor.id)
            wait_active(lb_api, lb.id)
            members[pool.id] = []
            for address in ("198.18.2.20", "198.18.2.21", "198.18.2.22"):
                member = lb_api.create_member(pool.id, address=address, protocol_port=80)
                members[pool.id].append(member.id)
                wait_active(lb_api, lb.id)

    def walked(objects):
        seen = ids(objects)
        assert len(seen) == len(set(seen)), f"an object came twice: {seen}"
        return sorted(seen)

    assert walked(lb_api.load_balancers(limit=1)) == sorted(lbs)
    assert walked(lb_api.listeners(limit=1)) == sorted(listeners)
    assert walked(lb_api.pools(limit=1)) == sorted(pools)
    assert walked(lb_api.health_monitors(limit=1)) == sorted(monitors)
    for pool_id, expected in members.items():
        assert walked(lb_api.members(pool_id, limit=1)) == sorted(expected)
    amphorae = krater.api("GET", "/v2/octavia/amphorae")["amphorae"]
    assert len(amphorae) == len(lbs)
    assert walked(lb_api.amphorae(limit=1)) == sorted(a["id"] for a in amphorae)
    # Filters the CLI sends. (Octavia's links do not carry filters, nor do krater's, so
    # a filtered walk is asked without a limit.)
    assert walked(lb_api.listeners(load_balancer_id=lbs[1])) == sorted(listeners[2:4])
    assert walked(lb_api.pools(loadbalancer_id=lbs[2])) == sorted(pools[4:6])
    assert walked(lb_api.health_monitors(pool_id=pools[3])) == [monitors[3]]
    # Octavia lists providers without pagination, ignoring limit and marker (so the sdk
    # aborts providers(limit=1) against Octavia too, "Endless pagination loop").
    providers = [p.name for p in lb_api.providers()]
    assert providers == [p["name"] for p in krater.api("GET", "/v2/lbaas/providers")["providers"]]
