"""Spares bench: create-to-ACTIVE of a bare load balancer (POST until ACTIVE, through
the REST API), with no spares pool and with `spare_amphora_pool_size = 2`, for SINGLE
and ACTIVE_STANDBY, as medians over repeated creates. With the pool, each create
starts once the pool is full again, so that every create finds its spares. Each
configuration runs in a host namespace of its own; nothing is left behind. Octavia
19 has no spares pool; its create takes about a minute with Nova (OCTAVIA_REFERENCE
§11). Prints figures; asserts nothing.  usage: spares.py [--rounds N]"""
import argparse
import statistics
import time

from common import call, in_new_run, serving, wait

CONFIGURATIONS = {
    "SINGLE, no spares": "",
    "SINGLE, 2 spares": "[house_keeping]\nspare_amphora_pool_size = 2\nspare_check_interval = 1\n",
    "ACTIVE_STANDBY, no spares":
        '[controller_worker]\nloadbalancer_topology = "ACTIVE_STANDBY"\n',
    "ACTIVE_STANDBY, 2 spares":
        '[controller_worker]\nloadbalancer_topology = "ACTIVE_STANDBY"\n'
        "[house_keeping]\nspare_amphora_pool_size = 2\nspare_check_interval = 1\n",
}


def ready_spares():
    return [a for a in call("GET", "/v2/octavia/amphorae")["amphorae"]
            if a["status"] == "READY" and a["loadbalancer_id"] is None]


def lb_status(lb_id):
    return call("GET", f"/v2/lbaas/loadbalancers/{lb_id}")["loadbalancer"]["provisioning_status"]


def one_create(spares, subnet):
    if spares:
        wait(lambda: len(ready_spares()) >= spares)
    began = time.monotonic()
    lb = call("POST", "/v2/lbaas/loadbalancers",
              {"loadbalancer": {"vip_subnet_id": subnet}})["loadbalancer"]
    wait(lambda: lb_status(lb["id"]) == "ACTIVE")
    seconds = time.monotonic() - began
    call("DELETE", f"/v2/lbaas/loadbalancers/{lb['id']}")
    wait(lambda: call("GET", f"/v2/lbaas/loadbalancers?id={lb['id']}")["loadbalancers"] == [])
    return seconds


def inside(run_id, name, rounds):
    config = CONFIGURATIONS[name]
    spares = 2 if "spare_amphora_pool_size" in config else 0
    with serving(run_id, config):
        subnets = {s["name"]: s["id"] for s in call("GET", "/network/v2.0/subnets")["subnets"]}
        figures = [one_create(spares, subnets["public-subnet"]) for _ in range(rounds)]
        print(f"  {name + ':':28s} {statistics.median(figures):5.2f} s  "
              f"({', '.join(f'{f:.2f}' for f in figures)})", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    parser.add_argument("--configuration", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside(args.inside, args.configuration, args.rounds)
    print(f"create-to-ACTIVE of a load balancer, medians of {args.rounds} creates (all runs)")
    for name in CONFIGURATIONS:
        in_new_run(__file__, ["--configuration", name, "--rounds", str(args.rounds)])


if __name__ == "__main__":
    main()
