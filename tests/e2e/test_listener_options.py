"""Listener options through a real amphora, as a client sees them: `allowed_cidrs`
refuse every other client (and follow an update), and `insert_headers` reach the
member with the values their names promise."""
import pytest

from test_dataplane import wait_until


def one_member_lb(dataplane, protocol, *listener_options):
    """lb1 → listener1 (`protocol`:80, with `listener_options`) → pool1 → m1."""
    os = dataplane.openstack
    os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet", "--wait")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", protocol,
       "--protocol-port", "80", *listener_options, "--wait", "lb1")
    os("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm", "ROUND_ROBIN",
       "--listener", "listener1", "--protocol", protocol, "--wait")
    m1 = dataplane.run.add_member("m1", "198.18.2.20")
    os("loadbalancer", "member", "create", "--name", "m1", "--subnet-id", "private-subnet",
       "--address", m1["address"], "--protocol-port", "80", "--wait", "pool1")
    return os("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]


def answer_from(dataplane, source, vip, path="/"):
    """The body a client at `source` gets, or None when it gets no answer."""
    done = dataplane.run.exec("curl", "-s", "-m", "3", "--interface", source,
                              f"http://{vip}{path}", capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


@pytest.mark.parametrize("protocol", ["HTTP", "TCP"])
def test_allowed_cidrs_refuse_other_clients_and_follow_updates(dataplane, protocol):
    inside, outside = dataplane.run.add_client_addresses(2)
    vip = one_member_lb(dataplane, protocol, "--allowed-cidr", f"{inside}/32",
                        "--allowed-cidr", "203.0.113.0/24")
    assert answer_from(dataplane, inside, vip) == "m1\n"
    assert answer_from(dataplane, outside, vip) is None, "a client outside the CIDRs"
    assert answer_from(dataplane, "198.18.1.1", vip) is None, "a client outside the CIDRs"

    os = dataplane.openstack
    os("loadbalancer", "listener", "set", "--allowed-cidr", f"{outside}/32", "--wait",
       "listener1")
    assert os("loadbalancer", "listener", "show", "listener1", "-f", "json")[
        "allowed_cidrs"] == [f"{outside}/32"]
    assert answer_from(dataplane, outside, vip) == "m1\n"
    assert answer_from(dataplane, inside, vip) is None, "the CIDRs were replaced"

    os("loadbalancer", "listener", "unset", "--allowed-cidrs", "--wait", "listener1")
    for source in (inside, outside, "198.18.1.1"):
        assert answer_from(dataplane, source, vip) == "m1\n", "open to every client again"


def test_inserted_headers_reach_the_member(dataplane):
    client, = dataplane.run.add_client_addresses(1)
    headers = ["X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Forwarded-IP",
               "X-Client-IP", "X-Real-IP"]
    vip = one_member_lb(dataplane, "HTTP", "--insert-headers",
                        ",".join(f"{h}=true" for h in headers))
    seen = answer_from(dataplane, client, vip, "/headers")
    assert seen is not None
    # HAProxy writes header names in lower case, which HTTP allows.
    received = {name.lower(): value for name, value in
                (line.split(": ", 1) for line in seen.splitlines()[1:])}
    assert {h: received.get(h.lower()) for h in headers} == {
        "X-Forwarded-For": client, "X-Forwarded-Port": "80", "X-Forwarded-Proto": "http",
        "X-Forwarded-IP": client, "X-Client-IP": client, "X-Real-IP": client}, seen

    dataplane.openstack("loadbalancer", "listener", "set", "--insert-headers",
                        "X-Real-IP=false", "--wait", "listener1")
    seen = wait_until(lambda: answer_from(dataplane, client, vip, "/headers"), 10, "an answer")
    assert "x-real-ip" not in seen.lower() and "x-forwarded-for" not in seen.lower(), seen


# Holds one connection (answered), then tries a second one while the first is held,
# and again once it is closed; prints what each attempt got.
LIMIT_PROBE = """
import socket, sys
vip = sys.argv[1]
def ask(s):
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    try:
        data = s.recv(4096)
    except socket.timeout:
        return "waiting"
    return data.split(b"\\r\\n\\r\\n", 1)[-1].strip().decode() or "closed"
held = socket.create_connection((vip, 80), timeout=2)
print(ask(held))
second = socket.create_connection((vip, 80), timeout=2)
print(ask(second))
held.close()
second.settimeout(5)
print(second.recv(4096).split(b"\\r\\n\\r\\n", 1)[-1].strip().decode() or "closed")
"""

# Sends nothing on a new connection for 3 s and prints whether it is still open.
IDLE_PROBE = """
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=3)
try:
    s.recv(4096)  # HAProxy's 408, or the end of the connection
    print("closed")
except socket.timeout:
    print("open")
"""


def test_connection_limit_makes_the_next_client_wait(dataplane):
    vip = one_member_lb(dataplane, "TCP", "--connection-limit", "1")
    done = dataplane.run.exec("python3", "-c", LIMIT_PROBE, vip, capture_output=True,
                              text=True, check=True)
    assert done.stdout.split() == ["m1", "waiting", "m1"], \
        "the second client waits while the first holds the only connection"


def test_timeout_client_data_closes_an_idle_client(dataplane):
    vip = one_member_lb(dataplane, "HTTP", "--timeout-client-data", "1000")
    idle = lambda: dataplane.run.exec("python3", "-c", IDLE_PROBE, vip, capture_output=True,
                                      text=True, check=True).stdout.strip()
    assert idle() == "closed", "1 s without a request: HAProxy closes the connection"
    dataplane.openstack("loadbalancer", "listener", "set", "--timeout-client-data", "10000",
                        "--wait", "listener1")
    assert idle() == "open", "within 10 s the connection stays open"
