"""Replays request sequences on two Octavia v2 API endpoints (the real Octavia and
krater) and compares the answers after normalisation.

A scenario is a list of steps (see scenarios.py). `{name}` in a path or body is the id
saved by an earlier step under that name, looked up per side, so each server is driven
with its own ids. Answers are compared as (status, normalised JSON body):

* an id saved as `name` becomes `<name>`; any other UUID becomes `<id:KEY:N>` (KEY the
  JSON key it sits under, N the order of first appearance under that key, keys visited
  in sorted order), so one extra id on one side does not shift every later one;
* timestamps become `<ts>`, the endpoint's base URL `<base>`;
* lists that are sets in Octavia (tags, `[{"id": ...}]` references, the children in a
  status tree) are sorted, and so
  are the values in "Value should be one of: ..." (Octavia prints a Python set);
* allocated addresses (`vip_address`, amphora `lb_network_ip`/`vrrp_ip`/`ha_ip`) that
  no request asked for become `<allocated>`; `vip_port_id`, `vip_network_id` and the
  amphora's `compute_id`/`vrrp_port_id`/`ha_port_id` become `<allocated-id>`.
"""
import json
import re
import time
import urllib.error
import urllib.request

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TS = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")
TEMPLATE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
ALLOCATED_ADDRESS_KEYS = {"vip_address", "lb_network_ip", "vrrp_ip", "ha_ip"}
ALLOCATED_ID_KEYS = {"vip_port_id", "vip_network_id", "vrrp_port_id", "ha_port_id"}
DRIVER_KEYS = {"compute_id"}   # whatever the compute driver calls its server
ADDRESS = re.compile(r"^[0-9a-f.:]+$")
# Octavia lists an enum's values in the order of a Python set (per process)
VIPS_IN_TEXT = re.compile(r"all VIPs \[[^\]]*\]")
ONE_OF = re.compile(r"(Value should be one of: )([A-Za-z0-9_, -]+)")
PENDING = ("PENDING_CREATE", "PENDING_UPDATE", "PENDING_DELETE")


class Side:
    """One server under test: sends requests, remembers the ids it returned."""

    def __init__(self, name, base, constants):
        self.name = name
        self.base = base.rstrip("/")
        self.constants = constants   # template names with the same value on both sides
        self.saved = {}              # scenario name -> id on this side

    def reset(self):
        self.saved = {}

    def expand(self, value):
        if isinstance(value, str):
            def sub(m):
                key = m.group(1)
                if key in self.saved:
                    return self.saved[key]
                if key in self.constants:
                    return self.constants[key]
                return "missing-" + key   # an earlier create failed on this side
            return TEMPLATE.sub(sub, value)
        if isinstance(value, list):
            return [self.expand(v) for v in value]
        if isinstance(value, dict):
            return {self.expand(k): self.expand(v) for k, v in value.items()}
        return value

    def call(self, method, path, body=None, raw=None, headers=None):
        data = None
        if raw is not None:
            data = raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
        hdrs = {"Accept": "application/json"}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        req = urllib.request.Request(self.base + path, method=method, data=data,
                                     headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, payload = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, payload = e.code, e.read()
        text = payload.decode(errors="replace")
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = {"<non-json body>": text.strip()[:300]}
        return status, parsed


class Normaliser:
    def __init__(self, side, requested_addresses):
        self.side = side
        self.requested = requested_addresses
        self.names = {v: k for k, v in side.saved.items()}
        self.counters = {}
        self.unnamed = {}

    def uuid(self, value, key):
        if value in self.names:
            return f"<{self.names[value]}>"
        if value in self.side.constants.values():
            return value
        if value not in self.unnamed:
            n = self.counters.get(key, 0) + 1
            self.counters[key] = n
            self.unnamed[value] = f"<id:{key}:{n}>"
        return self.unnamed[value]

    def norm(self, obj, key="", in_tree=False):
        if isinstance(obj, dict):
            return {k: self.norm(obj[k], k, in_tree or k == "statuses") for k in sorted(obj)}
        if isinstance(obj, list):
            items = [self.norm(v, key, in_tree) for v in obj]
            # tags, the {"id": ...} references to children or parents and the children
            # in a status tree are sets in Octavia: their order is the database's
            if key == "tags" or in_tree or all(isinstance(v, dict) and list(v) == ["id"]
                                               for v in items):
                items.sort(key=lambda v: json.dumps(v, sort_keys=True))
            return items
        if isinstance(obj, str):
            if key in ALLOCATED_ADDRESS_KEYS and ADDRESS.match(obj) and obj not in self.requested:
                return "<allocated>"
            if key in ALLOCATED_ID_KEYS and UUID.fullmatch(obj):
                return "<allocated-id>"
            if key in DRIVER_KEYS:
                return "<driver-id>"
            if TS.match(obj):
                return "<ts>"
            obj = obj.replace(self.side.base, "<base>")
            # a message that quotes the load balancer's VIPs quotes allocated addresses
            obj = VIPS_IN_TEXT.sub("all VIPs [<allocated>]", obj)
            obj = ONE_OF.sub(lambda m: m.group(1) + ", ".join(
                sorted(v.strip() for v in m.group(2).split(","))), obj)
            return UUID.sub(lambda m: self.uuid(m.group(0), key), obj)
        return obj


def diff_paths(a, b, path=""):
    """JSON paths where a (krater's answer) and b (Octavia's) differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            p = f"{path}.{k}"
            if k not in a:
                out.append(p + " (only octavia)")
            elif k not in b:
                out.append(p + " (only krater)")
            else:
                out += diff_paths(a[k], b[k], p)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff_paths(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [path or "."]


def addresses_in(body):
    found = set()
    if isinstance(body, dict):
        for k, v in body.items():
            if k.endswith("address") and isinstance(v, str):
                found.add(v)
            found |= addresses_in(v)
    elif isinstance(body, list):
        for v in body:
            found |= addresses_in(v)
    return found


def pending_in(obj):
    """The PENDING_* statuses anywhere in an answer."""
    if isinstance(obj, dict):
        found = [obj["provisioning_status"]] if obj.get("provisioning_status") in PENDING else []
        for v in obj.values():
            found += pending_in(v)
        return found
    if isinstance(obj, list):
        return [p for v in obj for p in pending_in(v)]
    return []


class Result:
    def __init__(self, scenario, key, request, octavia, krater, paths, race=False):
        self.scenario = scenario
        self.key = key              # stable name of the step: scenario/label
        self.request = request      # (method, path, body) as templates
        self.octavia = octavia      # (status, normalised body)
        self.krater = krater
        self.paths = paths          # [] when equal; "status" first when codes differ
        self.race = race
        self.verdict = None         # equal | allowed:<id> | race | different

    @property
    def equal(self):
        return not self.paths

    def render(self, width=1500):
        method, path, body = self.request
        lines = [f"[{self.key}] {method} {path}"]
        if body is not None:
            lines.append("  request: " + json.dumps(body, sort_keys=True)[:600])
        lines.append(f"  differs at: {', '.join(self.paths)}")
        for name, (status, data) in (("octavia", self.octavia), ("krater ", self.krater)):
            lines.append(f"  {name}: {status} {json.dumps(data, sort_keys=True)[:width]}")
        return "\n".join(lines)


class Replay:
    """Runs scenarios on both sides and collects the results."""

    def __init__(self, octavia, krater, wait_timeout=60.0):
        self.octavia = octavia
        self.krater = krater
        self.wait_timeout = wait_timeout
        self.requested = set()
        self.results = []
        self.problems = []      # waits that timed out and the like

    def run(self, scenario):
        for side in (self.octavia, self.krater):
            side.reset()
        labels = {}
        results = []
        for step in scenario.steps:
            kind = step["kind"]
            if kind == "wait":
                self.wait(scenario, step)
                continue
            if kind == "next_second":
                # Both sides keep created_at to the second (Octavia on MySQL too) and
                # break ties by random id: objects whose default order is compared
                # are made in different seconds.
                time.sleep(1.02 - time.time() % 1)
                continue
            label = step.get("label") or f"{step['method']} {step['path']}"
            labels[label] = labels.get(label, 0) + 1
            if labels[label] > 1:
                label = f"{label} #{labels[label]}"
            self.requested |= addresses_in(step.get("body"))
            answers = {}
            # For a request aimed at a PENDING_* state krater (the faster of the two
            # workers) is asked first, right after the request that made it pending.
            order = (self.krater, self.octavia) if step.get("race") else (self.octavia, self.krater)
            for side in order:
                headers = {"X-Project-Id": scenario.project}
                headers.update(step.get("headers") or {})
                status, data = side.call(step["method"], side.expand(step["path"]),
                                         side.expand(step.get("body")), step.get("raw"),
                                         headers)
                if step.get("save") and isinstance(data, dict) and 200 <= status < 300:
                    obj = next((v for v in data.values() if isinstance(v, dict)), None)
                    if obj is None:   # a list: its first element
                        obj = next((v[0] for v in data.values()
                                    if isinstance(v, list) and v and isinstance(v[0], dict)), None)
                    if obj and obj.get("id"):
                        side.saved[step["save"]] = obj["id"]
                answers[side.name] = (side, status, data)
            normalised = [(status, Normaliser(side, self.requested).norm(data))
                          for side, status, data in (answers["octavia"], answers["krater"])]
            (so, bo), (sk, bk) = normalised
            paths = []
            if so != sk:
                paths.append("status")
            if not step.get("status_only"):
                paths += diff_paths(bk, bo) if (bo is not None or bk is not None) else []
            result = Result(scenario.name, f"{scenario.name}/{label}",
                            (step["method"], step["path"], step.get("body") if step.get("raw") is None else step["raw"]),
                            (so, bo), (sk, bk), paths, race=step.get("race", False))
            result.race_done = step.get("race_done", (200, 201, 202, 204))
            results.append(result)
        self.results += results
        return results

    def wait(self, scenario, step):
        """Polls each side until nothing in the answer is PENDING_* (or it is gone)."""
        for side in (self.octavia, self.krater):
            path = side.expand(step["path"])
            deadline = time.monotonic() + self.wait_timeout
            while True:
                status, data = side.call("GET", path, headers={"X-Project-Id": scenario.project})
                if status == 404 or not isinstance(data, dict):
                    break
                pending = pending_in(data)
                if not pending:
                    break
                if time.monotonic() > deadline:
                    self.problems.append(f"{scenario.name}: {side.name} {path} still "
                                         f"{pending} after {self.wait_timeout:.0f} s")
                    break
                time.sleep(0.05)
