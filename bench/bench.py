"""krater benchmark: prints medians over repeated runs of
  * create-to-ACTIVE: a load balancer with a listener, a pool and two members, through
    the REST API, from the first POST until everything is ACTIVE;
  * requests/s and p99 latency through the VIP, and straight to a member (the
    baseline), measured with wrk in the same run on the same machine.
Everything runs inside a host namespace made for the run, members in namespaces of
their own; nothing is left behind.  usage: bench.py [--rounds N] [--seconds S]"""
import argparse
import re
import statistics
import subprocess
import time

from common import call, in_new_run, serving


def wait_active(lb_id):
    while True:
        status = call("GET", f"/v2/lbaas/loadbalancers/{lb_id}")["loadbalancer"]["provisioning_status"]
        if status == "ACTIVE":
            return
        if status == "ERROR":
            raise RuntimeError(f"load balancer {lb_id} went to ERROR")
        time.sleep(0.02)


def subnet(name):
    return call("GET", f"/network/v2.0/subnets?name={name}")["subnets"][0]["id"]


def create_stack(public, private):
    """Returns (seconds until ACTIVE, load balancer)."""
    start = time.monotonic()
    lb = call("POST", "/v2/lbaas/loadbalancers",
              {"loadbalancer": {"vip_subnet_id": public}})["loadbalancer"]
    wait_active(lb["id"])
    listener = call("POST", "/v2/lbaas/listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}})["listener"]
    wait_active(lb["id"])
    pool = call("POST", "/v2/lbaas/pools", {"pool": {
        "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}})["pool"]
    wait_active(lb["id"])
    for address in ("198.18.2.20", "198.18.2.21"):
        call("POST", f"/v2/lbaas/pools/{pool['id']}/members", {"member": {
            "address": address, "protocol_port": 80, "subnet_id": private}})
        wait_active(lb["id"])
    return time.monotonic() - start, lb


def wrk(url, seconds):
    """(requests/s, p99 latency in ms) of one wrk run."""
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def inside(run_id, rounds, seconds):
    with serving(run_id):
        public, private = subnet("public-subnet"), subnet("private-subnet")
        creates, lbs = [], []
        for _ in range(rounds):
            seconds_to_active, lb = create_stack(public, private)
            creates.append(seconds_to_active)
            lbs.append(lb)
        vip = lbs[0]["vip_address"]
        time.sleep(1)
        through, direct = [], []
        for _ in range(rounds):
            through.append(wrk(f"http://{vip}/", seconds))
            direct.append(wrk("http://198.18.2.20/", seconds))
        for lb in lbs:
            call("DELETE", f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true")
        median = statistics.median
        vip_rps, vip_p99 = median(r for r, _ in through), median(p for _, p in through)
        dir_rps, dir_p99 = median(r for r, _ in direct), median(p for _, p in direct)
        print(f"rounds: {rounds}, wrk: 2 threads, 32 connections, {seconds} s per run")
        print(f"create-to-ACTIVE (LB + listener + pool + 2 members), median: "
              f"{median(creates):.2f} s  (all: {', '.join(f'{c:.2f}' for c in creates)})")
        print(f"through the VIP:       {vip_rps:10.0f} req/s   p99 {vip_p99:7.2f} ms")
        print(f"straight to a member:  {dir_rps:10.0f} req/s   p99 {dir_p99:7.2f} ms")
        print(f"ratio VIP/direct:      {vip_rps / dir_rps:10.2f} x req/s  "
              f"{vip_p99 / dir_p99:5.2f} x p99")
        time.sleep(2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside(args.inside, args.rounds, args.seconds)
    in_new_run(__file__, ["--rounds", str(args.rounds), "--seconds", str(args.seconds)])

if __name__ == "__main__":
    main()
