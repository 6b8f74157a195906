"""What the data-plane benches share: the REST API of the `krater serve` they start,
and running the bench itself inside a host namespace made for the run (torn down
afterwards, with every amphora and member of the run)."""
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "e2e"))
from netns import Run  # noqa: E402,F401 (re-exported)

ROOT = Path(__file__).parents[1]
KRATER_BIN = os.environ.get("KRATER_BIN", str(ROOT / "target/release/krater"))
API = "http://127.0.0.1:9876"


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(API + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
        return json.loads(text) if text else None


def in_new_run(script, args):
    """Runs `script --inside <run id> args…` inside a new run's host namespace."""
    run = Run()
    try:
        subprocess.run(["ip", "netns", "exec", run.host, sys.executable, script,
                        "--inside", run.id, *args], check=True)
    finally:
        run.cleanup(KRATER_BIN)
