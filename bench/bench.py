"""krater benchmark: prints medians over repeated runs of
  * create-to-ACTIVE: a load balancer with a listener, a pool and two members, through
    the REST API, from the first POST until everything is ACTIVE;
  * requests/s and p50/p99 latency through the VIP, straight to a member, and through
    a hand-written HAProxy configuration on the same two members (run in the host
    namespace), measured with wrk in the same run on the same machine;
  * member change to serving: from the POST of a new member until a request through
    the VIP is answered by it;
  * UDP datagrams/s through a UDP listener's VIP (nftables in the amphora) and straight
    to the same two members, by 32 flows that each send their next datagram when the
    last is answered (the members are Python, so both figures are bounded by them).
Everything runs inside a host namespace made for the run, members in namespaces of
their own; nothing is left behind.  usage: bench.py [--rounds N] [--seconds S]"""
import argparse
import re
import selectors
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

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
    """(requests/s, p50 and p99 latency in ms) of one wrk run."""
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(p):
        value, unit = re.search(rf"{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, percentile(50), percentile(99)


# The baseline: what an operator would write by hand for the same two members.
HAND_WRITTEN = """global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 50s
    timeout server 50s
frontend plain
    bind 198.18.1.1:8080
    default_backend members
backend members
    http-reuse safe
    balance roundrobin
    server m1 198.18.2.20:80
    server m2 198.18.2.21:80
"""


def hand_written_haproxy(tmp):
    """A plain HAProxy on 198.18.1.1:8080 (this host namespace), started by the bench."""
    config = Path(tmp) / "plain.cfg"
    config.write_text(HAND_WRITTEN)
    return subprocess.Popen(["haproxy", "-f", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def member_change_to_serving(run, pool_id, private, vip, n):
    """Seconds from the POST of a new member (member m<n>) until a request through the
    VIP is answered by it; the member is removed again afterwards."""
    name = f"m{n}"
    member = run.add_member(name, f"198.18.2.{20 + n}")
    start = time.monotonic()
    created = call("POST", f"/v2/lbaas/pools/{pool_id}/members", {"member": {
        "address": member["address"], "protocol_port": 80, "subnet_id": private}})["member"]

    def answered_by_it():
        try:
            with urllib.request.urlopen(f"http://{vip}/", timeout=1) as response:
                return response.read().strip() == name.encode()
        except OSError:
            return False
    while not answered_by_it():
        time.sleep(0.005)
    seconds = time.monotonic() - start
    wait_active(created_lb(pool_id))
    call("DELETE", f"/v2/lbaas/pools/{pool_id}/members/{created['id']}")
    return seconds


def udp_rate(targets, seconds, flows=32):
    """(answered datagrams/s, datagrams lost) of `flows` connected UDP sockets spread
    over `targets`; each sends its next datagram when the last is answered, or after
    0.2 s without an answer (counted lost)."""
    selector = selectors.DefaultSelector()
    sent_at = {}
    for i in range(flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect(targets[i % len(targets)])
        selector.register(s, selectors.EVENT_READ)
        s.send(b"bench")
        sent_at[s] = time.monotonic()
    answered = lost = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in selector.select(0.05):
            try:
                key.fileobj.recv(512)
            except OSError:
                continue
            answered += 1
            key.fileobj.send(b"bench")
            sent_at[key.fileobj] = time.monotonic()
        now = time.monotonic()
        for s, at in sent_at.items():
            if now - at > 0.2:
                lost += 1
                s.send(b"bench")
                sent_at[s] = now
    for s in sent_at:
        selector.unregister(s)
        s.close()
    return answered / seconds, lost


def add_udp_listener(lb_id, private):
    """A UDP listener (:53) on `lb_id`, its pool on UDP port 80 of both members."""
    listener = call("POST", "/v2/lbaas/listeners", {"listener": {
        "loadbalancer_id": lb_id, "protocol": "UDP", "protocol_port": 53}})["listener"]
    wait_active(lb_id)
    pool = call("POST", "/v2/lbaas/pools", {"pool": {
        "listener_id": listener["id"], "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN"}})["pool"]
    wait_active(lb_id)
    for address in ("198.18.2.20", "198.18.2.21"):
        call("POST", f"/v2/lbaas/pools/{pool['id']}/members", {"member": {
            "address": address, "protocol_port": 80, "subnet_id": private}})
        wait_active(lb_id)


def created_lb(pool_id):
    return call("GET", f"/v2/lbaas/pools/{pool_id}")["pool"]["loadbalancers"][0]["id"]


def inside(run_id, rounds, seconds):
    with serving(run_id) as run, tempfile.TemporaryDirectory() as tmp:
        public, private = subnet("public-subnet"), subnet("private-subnet")
        creates, lbs = [], []
        for _ in range(rounds):
            seconds_to_active, lb = create_stack(public, private)
            creates.append(seconds_to_active)
            lbs.append(lb)
        vip = lbs[0]["vip_address"]
        plain = hand_written_haproxy(tmp)
        time.sleep(1)
        through, direct, hand = [], [], []
        try:
            for _ in range(rounds):
                through.append(wrk(f"http://{vip}/", seconds))
                direct.append(wrk("http://198.18.2.20/", seconds))
                hand.append(wrk("http://198.18.1.1:8080/", seconds))
        finally:
            plain.kill()
            plain.wait()
        pool_id = call("GET", f"/v2/lbaas/pools?loadbalancer_id={lbs[0]['id']}")["pools"][0]["id"]
        add_udp_listener(lbs[0]["id"], private)
        udp_through, udp_direct = [], []
        members = [("198.18.2.20", 80), ("198.18.2.21", 80)]
        for _ in range(rounds):
            udp_through.append(udp_rate([(vip, 53)], seconds))
            udp_direct.append(udp_rate(members, seconds))
        changes = []
        for n in range(3, 3 + rounds):
            changes.append(member_change_to_serving(run, pool_id, private, vip, n))
            wait_active(lbs[0]["id"])
        for lb in lbs:
            call("DELETE", f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true")
        median = statistics.median

        def row(name, runs, baseline=None):
            rps, p50, p99 = (median(r[i] for r in runs) for i in range(3))
            line = f"{name:<24}{rps:10.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:7.2f} ms"
            if baseline:
                base_rps, _, base_p99 = (median(r[i] for r in baseline) for i in range(3))
                line += f"   ({rps / base_rps:.2f} x req/s, {p99 / base_p99:.2f} x p99 of direct)"
            return line
        print(f"rounds: {rounds}, wrk: 2 threads, 32 connections, {seconds} s per run")
        print(f"create-to-ACTIVE (LB + listener + pool + 2 members), median: "
              f"{median(creates):.2f} s  (all: {', '.join(f'{c:.2f}' for c in creates)})")
        print(row("straight to a member:", direct))
        print(row("through the VIP:", through, direct))
        print(row("hand-written HAProxy:", hand, direct))
        vip_rps, hand_rps = median(r[0] for r in through), median(r[0] for r in hand)
        print(f"ratio VIP/hand-written:  {vip_rps / hand_rps:10.2f} x req/s")
        print(f"member change to serving, median: {median(changes):.2f} s  "
              f"(all: {', '.join(f'{c:.2f}' for c in changes)})")
        udp_vip, udp_members = (median(r[0] for r in runs) for runs in (udp_through, udp_direct))
        print(f"UDP straight to the members: {udp_members:10.0f} datagrams/s  "
              f"(lost: {sum(r[1] for r in udp_direct)})")
        print(f"UDP through the VIP:         {udp_vip:10.0f} datagrams/s  "
              f"(lost: {sum(r[1] for r in udp_through)}; {udp_vip / udp_members:.2f} x direct)")
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
