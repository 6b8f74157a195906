"""Pool and member options through a real amphora, as clients see them: the balancing
algorithms, the three kinds of session persistence, member weights, backup members
and disabled members."""
import pytest

from test_dataplane import wait_until

ADDRESSES = {"m1": "198.18.2.20", "m2": "198.18.2.21", "m3": "198.18.2.22"}


def build(dataplane, protocol, algorithm, members=("m1", "m2"), *pool_options):
    """lb1 → listener1 (`protocol`:80) → pool1 (`algorithm`) → `members`."""
    os = dataplane.openstack
    os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet", "--wait")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", protocol,
       "--protocol-port", "80", "--wait", "lb1")
    os("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm", algorithm,
       "--listener", "listener1", "--protocol", protocol, *pool_options, "--wait")
    for name in members:
        dataplane.run.add_member(name, ADDRESSES[name])
        os("loadbalancer", "member", "create", "--name", name, "--subnet-id", "private-subnet",
           "--address", ADDRESSES[name], "--protocol-port", "80", "--wait", "pool1")
    return os("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]


def answer(dataplane, vip, *curl_options, path="/"):
    """The member's answer; None when there is none (no connection, or an HTTP error)."""
    done = dataplane.run.exec("curl", "-sf", "-m", "3", *curl_options, f"http://{vip}{path}",
                              capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def answers(dataplane, vip, count=12, *curl_options):
    return [answer(dataplane, vip, *curl_options) for _ in range(count)]


# Holds one connection open to whichever member takes it, then asks on new ones.
HOLD_ONE_CONNECTION = """
import socket, sys, time
vip = sys.argv[1]
def ask(s):
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    return s.recv(4096).split(b"\\r\\n\\r\\n", 1)[1].strip().decode()
held = socket.create_connection((vip, 80), timeout=3)
print(ask(held))
for _ in range(6):
    with socket.create_connection((vip, 80), timeout=3) as s:
        print(ask(s))
    time.sleep(0.3)  # HAProxy counts the closed connection out before the next one

"""


def test_least_connections_sends_new_clients_to_the_idle_member(dataplane):
    vip = build(dataplane, "TCP", "LEAST_CONNECTIONS")
    done = dataplane.run.exec("python3", "-c", HOLD_ONE_CONNECTION, vip, capture_output=True,
                              text=True, check=True)
    held, *others = done.stdout.split()
    idle = ({"m1", "m2"} - {held}).pop()
    assert others == [idle] * 6, f"{held} holds a connection; the others went to {others}"


def test_source_ip_balancing_keeps_each_client_on_its_member(dataplane):
    vip = build(dataplane, "HTTP", "SOURCE_IP")
    sources = dataplane.run.add_client_addresses(8)
    chosen = {}
    for source in sources:
        seen = set(answers(dataplane, vip, 3, "--interface", source))
        assert len(seen) == 1, f"{source} moved between members: {seen}"
        chosen[source] = seen.pop()
    assert set(chosen.values()) == {"m1", "m2"}, chosen


@pytest.mark.parametrize("persistence", ["HTTP_COOKIE", "APP_COOKIE"])
def test_cookie_persistence_keeps_a_session_on_its_member(dataplane, tmp_path, persistence):
    kind = f"type={persistence}" + (",cookie_name=JSESSIONID" if persistence == "APP_COOKIE"
                                     else "")
    vip = build(dataplane, "HTTP", "ROUND_ROBIN", ("m1", "m2"), "--session-persistence", kind)
    assert set(answers(dataplane, vip)) == {"m1", "m2"}, "without a cookie: round robin"
    jar = str(tmp_path / "cookies")
    # HTTP_COOKIE: HAProxy sets its cookie; APP_COOKIE: it learns the member's.
    first = answer(dataplane, vip, "-c", jar, path="/login")
    assert first in {"m1", "m2"}
    cookies = (tmp_path / "cookies").read_text()
    assert ("SRV" if persistence == "HTTP_COOKIE" else f"session-{first}") in cookies, cookies
    assert set(answers(dataplane, vip, 12, "-b", jar)) == {first}, "the session stays"


def test_weights_backup_and_disabled_members(dataplane):
    vip = build(dataplane, "HTTP", "ROUND_ROBIN", ("m1", "m2", "m3"))
    os = dataplane.openstack
    os("loadbalancer", "member", "set", "--weight", "0", "--wait", "pool1", "m1")
    os("loadbalancer", "member", "set", "--enable-backup", "--wait", "pool1", "m3")
    assert set(answers(dataplane, vip)) == {"m2"}, "weight 0 drains, a backup waits"
    os("loadbalancer", "member", "set", "--weight", "3", "--wait", "pool1", "m1")
    seen = answers(dataplane, vip, 16)
    assert set(seen) == {"m1", "m2"} and seen.count("m1") > seen.count("m2"), seen
    for name in ("m1", "m2"):
        os("loadbalancer", "member", "set", "--disable", "--wait", "pool1", name)
    assert wait_until(lambda: set(answers(dataplane, vip, 6)) == {"m3"}, 20,
                      "the backup to serve once every other member is disabled")


@pytest.mark.parametrize("protocol", ["PROXY", "PROXYV2"])
def test_proxy_protocol_pools_tell_the_member_who_the_client_is(dataplane, protocol):
    vip = build(dataplane, "HTTP", "ROUND_ROBIN", ("m1",))
    client, = dataplane.run.add_client_addresses(1)
    seen_plain = answer(dataplane, vip, "--interface", client, path="/client")
    assert seen_plain.startswith("m1 ") and seen_plain != f"m1 {client}", \
        "an HTTP pool: the member sees the amphora"
    os = dataplane.openstack
    os("loadbalancer", "pool", "create", "--name", "proxied", "--lb-algorithm",
       "ROUND_ROBIN", "--protocol", protocol, "--loadbalancer", "lb1", "--wait")
    os("loadbalancer", "member", "create", "--subnet-id", "private-subnet", "--address",
       ADDRESSES["m1"], "--protocol-port", "80", "--wait", "proxied")
    os("loadbalancer", "listener", "set", "--default-pool", "proxied", "--wait", "listener1")
    assert answer(dataplane, vip, "--interface", client, path="/client") == f"m1 {client}"
