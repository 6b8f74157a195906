"""Holds established HTTP/1.1 connections through a VIP and tells how many a fault
dropped. Run inside the test's host namespace: `connections.py VIP COUNT`. Opens COUNT
connections, prints `ready`, then sends a request on each every 0.2 s until its standard
input closes, and prints {"opened": COUNT, "dropped": N} as JSON. A connection counts as
dropped at its first failed request, or when the server closed it; it is not opened
again."""
import http.client
import json
import sys
import threading

VIP, COUNT = sys.argv[1], int(sys.argv[2])


def ask(conn):
    conn.request("GET", "/")
    response = conn.getresponse()
    response.read()
    return response.status == 200 and not response.will_close


def main():
    conns = [http.client.HTTPConnection(VIP, 80, timeout=2) for _ in range(COUNT)]
    for conn in conns:
        assert ask(conn), "a first request failed"
    alive = [True] * COUNT
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    while not stop.is_set():
        for i, conn in enumerate(conns):
            if not alive[i]:
                continue
            try:
                # A connection the server closed would be opened again silently.
                alive[i] = conn.sock is not None and ask(conn)
            except (OSError, http.client.HTTPException):
                alive[i] = False
        stop.wait(0.2)
    print(json.dumps({"opened": COUNT, "dropped": alive.count(False)}), flush=True)


main()
