"""What the data-plane benches share: the REST API of the `krater serve` they start,
and running the bench itself inside a host namespace made for the run (torn down
afterwards, with every amphora and member of the run)."""
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
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


def wait(predicate, timeout=120):
    """The first true value of `predicate`, asked every 20 ms, within `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError("timed out")


def in_new_run(script, args):
    """Runs `script --inside <run id> args…` inside a new run's host namespace."""
    run = Run()
    try:
        subprocess.run(["ip", "netns", "exec", run.host, sys.executable, script,
                        "--inside", run.id, *args], check=True)
    finally:
        run.cleanup(KRATER_BIN)


@contextlib.contextmanager
def serving(run_id, config_extra=""):
    """`krater serve` with the embedded defaults (and the TOML of `config_extra`) on the
    run `run_id` (this process is in its host namespace), its API answering, and
    members m1 and m2; yields the run. The end of the log is printed when the bench
    fails; krater is killed at the end."""
    run = Run.existing(run_id)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "krater.toml"
        config.write_text(f'data_dir = "{tmp}/data"\n'
                          f'[haproxy_amphora]\nbase_path = "{run.base_path}"\n'
                          + config_extra)
        log_path = Path(tmp) / "krater.log"
        serve = subprocess.Popen([KRATER_BIN, "--config", str(config), "serve"],
                                 stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
        try:
            for _ in range(300):
                try:
                    call("GET", "/")
                    break
                except OSError:
                    time.sleep(0.1)
            run.add_member("m1", "198.18.2.20")
            run.add_member("m2", "198.18.2.21")
            yield run
        except Exception:
            print("--- krater log (last 60 lines) ---", file=sys.stderr)
            print("\n".join(log_path.read_text().splitlines()[-60:]), file=sys.stderr)
            raise
        finally:
            serve.kill()
            serve.wait()
