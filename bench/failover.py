"""Failover bench (SINGLE topology): medians over repeated faults of
  * the time from the fault to the first request answered through the VIP again;
  * the time from the fault to the load balancer ACTIVE with a new, ALLOCATED amphora
    (redundancy restored: for SINGLE, a healthy amphora again);
  * the requests that failed in between (one client, one request at a time);
per fault kind: every process of the amphora killed (agent, HAProxy), or the amphora's
namespaces deleted as well. Octavia's own figures for comparison: ≈63 s to notice a
silent amphora (heartbeat_timeout 60 s, checks every 3 s) and ~60 s to rebuild it.
Everything runs inside a host namespace made for the run; nothing is left behind.
Prints figures; asserts nothing.  usage: failover.py [--rounds N]"""
import argparse
import http.client
import statistics
import subprocess
import threading
import time

from common import call, in_new_run, serving, wait


def lb_status(lb_id):
    return call("GET", f"/v2/lbaas/loadbalancers/{lb_id}")["loadbalancer"]["provisioning_status"]


def live_amphorae(lb_id):
    return [a for a in call("GET", f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")["amphorae"]
            if a["status"] not in ("DELETED", "PENDING_DELETE")]


def build():
    subnets = {s["name"]: s["id"] for s in call("GET", "/network/v2.0/subnets")["subnets"]}
    lb = call("POST", "/v2/lbaas/loadbalancers",
              {"loadbalancer": {"vip_subnet_id": subnets["public-subnet"]}})["loadbalancer"]
    wait(lambda: lb_status(lb["id"]) == "ACTIVE")
    listener = call("POST", "/v2/lbaas/listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}})["listener"]
    wait(lambda: lb_status(lb["id"]) == "ACTIVE")
    pool = call("POST", "/v2/lbaas/pools", {"pool": {
        "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}})["pool"]
    wait(lambda: lb_status(lb["id"]) == "ACTIVE")
    for address in ("198.18.2.20", "198.18.2.21"):
        call("POST", f"/v2/lbaas/pools/{pool['id']}/members", {"member": {
            "address": address, "protocol_port": 80, "subnet_id": subnets["private-subnet"]}})
        wait(lambda: lb_status(lb["id"]) == "ACTIVE")
    return lb


class Client(threading.Thread):
    """One request at a time to the VIP; records (sent, answered)."""

    def __init__(self, vip):
        super().__init__(daemon=True)
        self.vip, self.results, self.stopping = vip, [], threading.Event()

    def run(self):
        while not self.stopping.is_set():
            sent = time.time()
            try:
                conn = http.client.HTTPConnection(self.vip, 80, timeout=0.5)
                conn.request("GET", "/")
                ok = conn.getresponse().status == 200
                conn.close()
            except OSError:
                ok = False
            self.results.append((sent, ok))
            time.sleep(0.01)


def namespace_pids(amphora):
    return [pid for ns in (amphora["compute_id"], amphora["compute_id"] + "-lb")
            for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                      text=True).stdout.split()]


def kill(amphora):
    for pid in namespace_pids(amphora):
        subprocess.run(["kill", "-9", pid])


def delete(amphora):
    kill(amphora)
    for ns in (amphora["compute_id"], amphora["compute_id"] + "-lb"):
        subprocess.run(["ip", "netns", "delete", ns], check=True)


FAULTS = {"kill agent and HAProxy": kill, "delete namespaces": delete}


def one_fault(lb, fault):
    (old,) = live_amphorae(lb["id"])
    old = call("GET", f"/v2/octavia/amphorae/{old['id']}")["amphora"]
    client = Client(lb["vip_address"])
    client.start()
    wait(lambda: any(ok for _, ok in client.results))
    fault(old)
    at = time.time()

    def restored():
        if lb_status(lb["id"]) != "ACTIVE":
            return False
        live = live_amphorae(lb["id"])
        return len(live) == 1 and live[0]["id"] != old["id"] and live[0]["status"] == "ALLOCATED"

    wait(restored)
    restored_at = time.time()
    answered = wait(lambda: next((s for s, ok in client.results if s > at and ok), None))
    client.stopping.set()
    client.join()
    failed = sum(1 for s, ok in client.results if s > at and not ok)
    return answered - at, restored_at - at, failed


def inside(run_id, rounds):
    with serving(run_id):
        lb = build()
        print(f"SINGLE topology, defaults (heartbeat every 1 s, stale after 3 s, checked "
              f"every 1 s), {rounds} faults per kind; medians (all runs)")
        for name, fault in FAULTS.items():
            figures = [one_fault(lb, fault) for _ in range(rounds)]
            columns = list(zip(*figures))
            med = [statistics.median(c) for c in columns]

            def runs(c):
                return ", ".join(f"{v:.2f}" for v in c)
            print(f"  {name}:")
            print(f"    fault → first answer:        {med[0]:6.2f} s  ({runs(columns[0])})")
            print(f"    fault → ACTIVE, new amphora: {med[1]:6.2f} s  ({runs(columns[1])})")
            print(f"    failed requests:             {med[2]:6.0f}    "
                  f"({', '.join(str(v) for v in columns[2])})")
        call("DELETE", f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true")
        time.sleep(2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside(args.inside, args.rounds)
    in_new_run(__file__, ["--rounds", str(args.rounds)])

if __name__ == "__main__":
    main()
