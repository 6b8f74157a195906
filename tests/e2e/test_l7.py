"""L7 policies and rules through a real amphora, made with the openstack CLI as a user
makes them: a pool chosen by path, a request refused by a header, a redirect with its
code and location, a prefix redirect chosen by a cookie; REJECT wins over a pool
whatever the positions (Octavia's order); an inverted rule; and a deleted policy
that stops applying."""
from test_dataplane import wait_until


def build(dataplane):
    """lb1 → listener1 (HTTP:80) → pool1 (m1, default); pool2 (m2) for policies."""
    os, run = dataplane.openstack, dataplane.run
    os("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet", "--wait")
    os("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", "HTTP",
       "--protocol-port", "80", "--wait", "lb1")
    for n, pool_options in ((1, ["--listener", "listener1"]), (2, ["--loadbalancer", "lb1"])):
        os("loadbalancer", "pool", "create", "--name", f"pool{n}", "--lb-algorithm",
           "ROUND_ROBIN", "--protocol", "HTTP", *pool_options, "--wait")
        member = run.add_member(f"m{n}", f"198.18.2.{19 + n}")
        os("loadbalancer", "member", "create", "--name", f"m{n}", "--subnet-id",
           "private-subnet", "--address", member["address"], "--protocol-port", "80",
           "--wait", f"pool{n}")
    return os("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]


def policy(dataplane, name, *options):
    dataplane.openstack("loadbalancer", "l7policy", "create", "--name", name, *options,
                        "--wait", "listener1")


def rule(dataplane, policy_name, *options):
    dataplane.openstack("loadbalancer", "l7rule", "create", *options, "--wait", policy_name)


def ask(dataplane, vip, path="/", *curl_options):
    """(status code, Location header or body) of one request through the VIP."""
    done = dataplane.run.exec(
        "curl", "-s", "-m", "5", "-o", "/dev/stdout", "-w", "\n%{http_code} %{redirect_url}",
        *curl_options, f"http://{vip}{path}", capture_output=True, text=True)
    body, _, tail = done.stdout.rpartition("\n")
    code, _, location = tail.partition(" ")
    return int(code), location or body.strip()


def test_policies_route_refuse_and_redirect_in_octavias_order(dataplane):
    vip = build(dataplane)
    assert ask(dataplane, vip, "/api/x") == (200, "m1"), "no policy yet: the default pool"

    policy(dataplane, "to-api", "--action", "REDIRECT_TO_POOL", "--redirect-pool", "pool2")
    rule(dataplane, "to-api", "--type", "PATH", "--compare-type", "STARTS_WITH", "--value", "/api")
    # After the pool policy, yet HAProxy (and Octavia) refuse first.
    policy(dataplane, "blocked", "--action", "REJECT")
    rule(dataplane, "blocked", "--type", "HEADER", "--key", "X-Block", "--compare-type",
         "EQUAL_TO", "--value", "\"yes please\"")
    policy(dataplane, "moved", "--action", "REDIRECT_TO_URL", "--redirect-url",
           "https://www.example.com/new#top", "--redirect-http-code", "301")
    rule(dataplane, "moved", "--type", "PATH", "--compare-type", "REGEX", "--value",
         "^/old/[a-z]+\\.html$")
    policy(dataplane, "secure", "--action", "REDIRECT_PREFIX", "--redirect-prefix",
           "https://secure.example.com")
    rule(dataplane, "secure", "--type", "COOKIE", "--key", "insecure", "--compare-type",
         "EQUAL_TO", "--value", "1")

    assert ask(dataplane, vip, "/") == (200, "m1")
    assert ask(dataplane, vip, "/api/x") == (200, "m2")
    assert ask(dataplane, vip, "/api/x", "-H", "X-Block: yes please")[0] == 403
    assert ask(dataplane, vip, "/api/x", "-H", "X-Block: yes")[0] == 200, "the whole value"
    assert ask(dataplane, vip, "/old/page.html") == (301, "https://www.example.com/new#top")
    assert ask(dataplane, vip, "/old/Page.html") == (200, "m1"), "the regex is anchored"
    assert ask(dataplane, vip, "/x?y=1", "-b", "insecure=1") == (
        302, "https://secure.example.com/x?y=1")

    # An inverted rule: every path but /api goes to pool2.
    os = dataplane.openstack
    rule_id = os("loadbalancer", "l7rule", "list", "to-api", "-f", "json")[0]["id"]
    os("loadbalancer", "l7rule", "set", "--invert", "--wait", "to-api", rule_id)
    assert ask(dataplane, vip, "/other") == (200, "m2")
    assert ask(dataplane, vip, "/api/x") == (200, "m1")

    os("loadbalancer", "l7policy", "delete", "blocked")
    wait_until(lambda: ask(dataplane, vip, "/api/x", "-H", "X-Block: yes please")[0] == 200,
               30, "the deleted policy to stop applying")
    positions = {name: os("loadbalancer", "l7policy", "show", name, "-f", "json")["position"]
                 for name in ("to-api", "moved", "secure")}
    assert positions == {"to-api": 1, "moved": 2, "secure": 3}, "positions closed up"
