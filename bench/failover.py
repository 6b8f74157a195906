"""Failover bench: medians over repeated faults, per topology and fault kind, of
  * the time from the fault to the first request answered through the VIP again;
  * the time from the fault to redundancy restored: the load balancer ACTIVE with a
    healthy amphora again (SINGLE), with a healthy MASTER and BACKUP again
    (ACTIVE_STANDBY: the killed process back, or the replaced amphora's successor);
  * the requests that failed (one client, one request at a time, 0.5 s timeout);
  * ACTIVE_STANDBY also: the VIP's downtime, the longest time between two answered
    requests around the fault (the first answer after the fault is often one the old
    holder still served).
Faults, SINGLE: every process of the amphora killed (agent, HAProxy), or its
namespaces deleted as well. ACTIVE_STANDBY, on the amphora holding the VIP: its
HAProxy killed, its keepalived killed, the whole amphora deleted, `PUT` failover of
that amphora, `PUT` failover of the load balancer. Octavia's own figures for
comparison: ≈63 s to notice a silent amphora (heartbeat_timeout 60 s, checks every
3 s), ~60 s to rebuild it, ≈3.65 s for a VRRP takeover. Each topology runs inside a
host namespace made for it; nothing is left behind. Prints figures; asserts nothing.
usage: failover.py [--rounds N] [--topology SINGLE|ACTIVE_STANDBY]"""
import argparse
import http.client
import json
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


def holds_vip(amphora):
    out = subprocess.run(["ip", "-n", amphora["compute_id"] + "-lb", "-j", "addr", "show",
                          "dev", "eth1"], capture_output=True, text=True).stdout
    return any(a["local"] == amphora["ha_ip"] for link in json.loads(out or "[]")
               for a in link["addr_info"])


def the_vip_holder(lb_id):
    def one():
        holders = [a for a in live_amphorae(lb_id) if holds_vip(a)]
        return len(holders) == 1 and holders[0]
    return wait(one, 60)


def processes(amphora, program):
    pids = subprocess.run(["ip", "netns", "pids", amphora["compute_id"] + "-lb"],
                          capture_output=True, text=True).stdout.split()
    names = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as comm:
                names[pid] = comm.read().strip()
        except OSError:
            pass
    return [pid for pid, name in names.items() if name == program]


def pair_without(lb_id, replaced):
    """The load balancer ACTIVE with an ALLOCATED MASTER and BACKUP, none of `replaced`."""
    if lb_status(lb_id) != "ACTIVE":
        return False
    live = live_amphorae(lb_id)
    return (sorted(a["role"] for a in live) == ["BACKUP", "MASTER"]
            and all(a["status"] == "ALLOCATED" and a["id"] not in replaced for a in live))


def as_kill(program, running):
    def fault(lb, holder):
        for pid in processes(holder, program):
            subprocess.run(["kill", "-9", pid])
        return lambda: (pair_without(lb["id"], ()) and
                        len(processes(holder, program)) >= running)
    return fault


def as_delete(lb, holder):
    delete(holder)
    return lambda: pair_without(lb["id"], {holder["id"]})


def as_amphora_failover(lb, holder):
    call("PUT", f"/v2/octavia/amphorae/{holder['id']}/failover")
    return lambda: pair_without(lb["id"], {holder["id"]})


def as_lb_failover(lb, holder):
    olds = {a["id"] for a in live_amphorae(lb["id"])}
    call("PUT", f"/v2/lbaas/loadbalancers/{lb['id']}/failover")
    return lambda: pair_without(lb["id"], olds)


ACTIVE_STANDBY_FAULTS = {
    "kill the holder's HAProxy": as_kill("haproxy", 2),
    "kill the holder's keepalived": as_kill("keepalived", 2),
    "delete the holder": as_delete,
    "PUT failover of the holder": as_amphora_failover,
    "PUT failover of the load balancer": as_lb_failover,
}


def one_active_standby_fault(lb, fault):
    holder = call("GET", f"/v2/octavia/amphorae/{the_vip_holder(lb['id'])['id']}")["amphora"]
    client = Client(lb["vip_address"])
    client.start()
    wait(lambda: any(ok for _, ok in client.results))
    before = time.time()
    time.sleep(0.2)
    at = time.time()
    restored = fault(lb, holder)
    wait(restored)
    restored_at = time.time()
    answered = wait(lambda: next((s for s, ok in client.results if s > at and ok), None))
    time.sleep(1)
    client.stopping.set()
    client.join()
    failed = sum(1 for s, ok in client.results if s > at and not ok)
    times = [s for s, ok in client.results if ok and s > before]
    downtime = max((b - a for a, b in zip(times, times[1:])), default=0.0)
    the_vip_holder(lb["id"])
    return answered - at, downtime, failed, restored_at - at


def print_figures(name, figures, labels):
    columns = list(zip(*figures))
    print(f"  {name}:")
    for label, column in zip(labels, columns):
        med = statistics.median(column)
        if label.startswith("failed"):
            text, runs = f"{med:6.0f}   ", ", ".join(str(v) for v in column)
        else:
            text, runs = f"{med:6.2f} s", ", ".join(f"{v:.2f}" for v in column)
        print(f"    {label:30s} {text}  ({runs})", flush=True)


TOPOLOGIES = {
    "SINGLE": {
        "config": "",
        "title": "SINGLE topology, defaults (heartbeat every 1 s, stale after 3 s, checked "
                 "every 1 s)",
        "faults": FAULTS,
        "one": one_fault,
        "labels": ["fault → first answer:", "fault → ACTIVE, new amphora:",
                   "failed requests:"],
    },
    "ACTIVE_STANDBY": {
        "config": '[controller_worker]\nloadbalancer_topology = "ACTIVE_STANDBY"\n',
        "title": "ACTIVE_STANDBY topology, defaults (VRRP advert every 0.2 s, heartbeat "
                 "every 1 s, stale after 3 s)",
        "faults": ACTIVE_STANDBY_FAULTS,
        "one": one_active_standby_fault,
        "labels": ["fault → first answer:", "VIP downtime (longest gap):",
                   "failed requests:", "fault → MASTER+BACKUP again:"],
    },
}


def inside(run_id, topology, rounds):
    bench = TOPOLOGIES[topology]
    with serving(run_id, bench["config"]):
        lb = build()
        print(f"{bench['title']}, {rounds} faults per kind; medians (all runs)")
        for name, fault in bench["faults"].items():
            figures = [bench["one"](lb, fault) for _ in range(rounds)]
            print_figures(name, figures, bench["labels"])
        call("DELETE", f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true")
        time.sleep(2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--topology", choices=list(TOPOLOGIES), action="append")
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside(args.inside, args.topology[0], args.rounds)
    for topology in args.topology or list(TOPOLOGIES):
        in_new_run(__file__, ["--rounds", str(args.rounds), "--topology", topology])


if __name__ == "__main__":
    main()
