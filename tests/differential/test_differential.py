"""Differential test: the same request sequences (scenarios.py) on the real Octavia 19
and on krater, answers compared after normalisation (harness.py).

A difference fails the test unless it is
* on the allowlist (allowlist.json: a deliberate difference, each with its reason,
  the same entries as README "Where krater differs from Octavia on purpose"), or
* in the known-differences file named by KRATER_DIFF_KNOWN with the very same two
  answers (krater's not-yet-fixed gaps; a changed answer is a failure again).

KRATER_DIFF_RECORD=FILE writes every difference not allowlisted to FILE in that
format (to refresh the known-differences file); KRATER_DIFF_REPORT=FILE writes a
readable list of all differences.
"""
import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from conftest import SUMMARY, subnet_ids
from harness import Replay, Side
from scenarios import SCENARIOS

HERE = Path(__file__).parent
MIN_REQUESTS = 400
MAX_ALLOWLIST = 10
ALLOWLIST = json.loads((HERE / "allowlist.json").read_text())


def load_known():
    path = os.environ.get("KRATER_DIFF_KNOWN")
    if not path:
        return {}
    return json.loads(Path(path).read_text())["differences"]


KNOWN = load_known()
STATE = {"replay": None, "ran": set()}


def allowed_by(result):
    for entry in ALLOWLIST:
        m = entry["match"]
        if not re.fullmatch(m["key"], result.key):
            continue
        if "paths" in m and not all(any(re.fullmatch(p, d) for p in m["paths"])
                                    for d in result.paths):
            continue
        if "octavia_status" in m and result.octavia[0] != m["octavia_status"]:
            continue
        if "krater_status" in m and result.krater[0] != m["krater_status"]:
            continue
        return entry["id"]
    return None


def digest(result):
    return hashlib.sha256(result.fingerprint().encode()).hexdigest()[:16]


def judge(result):
    if result.equal:
        return "equal"
    if result.race and (result.octavia[0] in result.race_done or
                        result.krater[0] in result.race_done):
        return "race"   # one side had already left PENDING_*: nothing to compare
    entry = allowed_by(result)
    if entry:
        return "allowed:" + entry
    if KNOWN.get(result.key, {}).get("sha") == digest(result):
        return "known"
    return "different"


@pytest.fixture(scope="module")
def replay(servers):
    octavia, krater = servers
    constants = subnet_ids(krater.base)
    if STATE["replay"] is None:
        STATE["replay"] = Replay(Side("octavia", octavia.base, constants),
                                 Side("krater", krater.base, constants))
    yield STATE["replay"]
    finish(STATE["replay"])


def test_allowlist_is_small_and_explained():
    assert len(ALLOWLIST) <= MAX_ALLOWLIST
    readme = (HERE.parents[1] / "README.md").read_text()
    for entry in ALLOWLIST:
        assert entry["reason"].strip() and entry["match"]["key"]
        assert f"`{entry['id']}`" in readme, f"allowlist entry {entry['id']} not in README"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(replay, scenario):
    problems_before = len(replay.problems)
    results = replay.run(scenario)
    STATE["ran"].add(scenario.name)
    failures = []
    for r in results:
        r.verdict = judge(r)
        if r.verdict == "different":
            failures.append(r.render())
    problems = replay.problems[problems_before:]
    assert not failures and not problems, (
        f"{len(failures)} of {len(results)} answers differ from Octavia's:\n\n"
        + "\n\n".join(problems + failures))


def test_enough_requests_compared(replay):
    if len(STATE["ran"]) < len(SCENARIOS):
        pytest.skip("only some scenarios were selected")
    compared = [r for r in replay.results if r.verdict != "race"]
    assert len(compared) >= MIN_REQUESTS
    races = [r for r in replay.results if r.race]
    assert any(r.verdict != "race" for r in races), "no PENDING_* state was ever compared"


def finish(replay):
    results = replay.results
    compared = [r for r in results if r.verdict != "race"]
    allowed = [r for r in results if (r.verdict or "").startswith("allowed:")]
    known = [r for r in results if r.verdict == "known"]
    failed = [r for r in results if r.verdict == "different"]
    races = len(results) - len(compared)
    fixed = sorted(k for k in KNOWN if any(r.key == k and r.equal for r in results))
    line = (f"differential: compared {len(compared)} requests, {len(allowed)} allowed "
            f"differences, {len(failed) + len(replay.problems)} failures")
    if KNOWN:
        line += f", {len(known)} known differences ({os.environ['KRATER_DIFF_KNOWN']})"
    if races:
        line += f", {races} PENDING_* races not compared"
    if fixed:
        line += f"; {len(fixed)} known differences are gone, remove them: {', '.join(fixed)}"
    SUMMARY["line"] = line
    record = os.environ.get("KRATER_DIFF_RECORD")
    if record:
        differences = {r.key: {"octavia": r.octavia[0], "krater": r.krater[0],
                               "paths": r.paths, "sha": digest(r)}
                       for r in results if r.verdict in ("known", "different")}
        Path(record).write_text(json.dumps({
            "about": "Differences krater still has from Octavia 19 (see FINDINGS.md); "
                     "written by KRATER_DIFF_RECORD, read by KRATER_DIFF_KNOWN.",
            "differences": differences}, indent=1, sort_keys=True) + "\n")
    report = os.environ.get("KRATER_DIFF_REPORT")
    if report:
        out = [line, ""]
        for r in results:
            if not r.equal:
                out += [f"## {r.verdict}", r.render(width=100000), ""]
        out += replay.problems
        Path(report).write_text("\n".join(out) + "\n")
        SUMMARY["report"] = report
