"""Differential test: the same request sequences (scenarios.py) on the real Octavia 19
and on krater, answers compared after normalisation (harness.py).

A difference fails the test unless it is on the allowlist (allowlist.json: a
deliberate difference, each with its reason, the same entries as README "Where krater
differs from Octavia on purpose"). KRATER_DIFF_REPORT=FILE writes a readable list of
all differences.
"""
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
        if not all(re.fullmatch(m[f"{side}_faultstring"], faultstring(answer))
                   for side, answer in (("octavia", result.octavia), ("krater", result.krater))
                   if f"{side}_faultstring" in m):
            continue
        return entry["id"]
    return None


def faultstring(answer):
    _, body = answer
    return body.get("faultstring", "") if isinstance(body, dict) else ""


def judge(result):
    if result.equal:
        return "equal"
    if result.race and (result.octavia[0] in result.race_done or
                        result.krater[0] in result.race_done):
        return "race"   # one side had already left PENDING_*: nothing to compare
    entry = allowed_by(result)
    if entry:
        return "allowed:" + entry
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
    failed = [r for r in results if r.verdict == "different"]
    races = len(results) - len(compared)
    line = (f"differential: compared {len(compared)} requests, {len(allowed)} allowed "
            f"differences, {len(failed) + len(replay.problems)} failures")
    if races:
        line += f", {races} PENDING_* races not compared"
    SUMMARY["line"] = line
    report = os.environ.get("KRATER_DIFF_REPORT")
    if report:
        out = [line, ""]
        for r in results:
            if not r.equal:
                out += [f"## {r.verdict}", r.render(width=100000), ""]
        out += replay.problems
        Path(report).write_text("\n".join(out) + "\n")
        SUMMARY["report"] = report
