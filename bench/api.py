"""API bench: GET list (limit 100) and GET one load balancer in requests/s with 100
and with 10,000 load balancers stored, their ratio, and sequential POST creates per
second (provider noop_driver). Prints figures; asserts nothing.

python3 bench/api.py BASE_URL   (a running `krater serve`, empty database)
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse

BASE = urllib.parse.urlparse(sys.argv[1])
SECONDS = 5.0
CLIENTS = 4
HEADERS = {"X-Project-Id": "bench", "Content-Type": "application/json"}


def connect():
    return http.client.HTTPConnection(BASE.hostname, BASE.port, timeout=60)


def call(conn, method, path, body=None):
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=HEADERS)
    response = conn.getresponse()
    data = response.read()
    return response.status, (json.loads(data) if data else None)


def subnet(conn):
    _, body = call(conn, "GET", "/network/v2.0/subnets?name=public-subnet")
    return body["subnets"][0]["id"]


def create(conn, subnet_id, n):
    status, body = call(conn, "POST", "/v2/lbaas/loadbalancers",
                        {"loadbalancer": {"name": f"bench-{n}", "vip_subnet_id": subnet_id,
                                          "provider": "noop_driver"}})
    assert status == 201, body
    return body["loadbalancer"]["id"]


def fill(subnet_id, start, end):
    """Creates load balancers start..end with CLIENTS connections in parallel."""
    counter = iter(range(start, end))
    lock = threading.Lock()

    def work():
        conn = connect()
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            create(conn, subnet_id, n)

    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settle()


def settle():
    """Waits until the worker has made every load balancer ACTIVE (it shares the database)."""
    conn = connect()
    while call(conn, "GET", "/v2/lbaas/loadbalancers?provisioning_status=PENDING_CREATE&limit=1")[1]["loadbalancers"]:
        time.sleep(0.2)


def rate(path):
    """Requests/s of GET path over SECONDS with CLIENTS connections."""
    done = [0] * CLIENTS
    stop = time.monotonic() + SECONDS

    def work(i):
        conn = connect()
        while time.monotonic() < stop:
            status, _ = call(conn, "GET", path)
            assert status == 200, path
            done[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / SECONDS


def main():
    conn = connect()
    subnet_id = subnet(conn)
    began = time.monotonic()
    one = None
    for n in range(100):
        one = create(conn, subnet_id, n)
    posts = 100 / (time.monotonic() - began)
    print(f"POST create (sequential, noop_driver): {posts:8.1f} /s")
    settle()
    figures = {}
    for stored in (100, 10_000):
        if stored > 100:
            fill(subnet_id, 100, stored)
        lists = rate("/v2/lbaas/loadbalancers?limit=100")
        shows = rate(f"/v2/lbaas/loadbalancers/{one}")
        figures[stored] = (lists, shows)
        print(f"{stored:>6} stored: GET list (limit 100) {lists:8.1f} req/s, "
              f"GET one {shows:8.1f} req/s")
    (l1, s1), (l2, s2) = figures[100], figures[10_000]
    print(f"ratio 10,000/100: list {l2 / l1:.2f}, one {s2 / s1:.2f}")


if __name__ == "__main__":
    main()
