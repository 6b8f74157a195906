"""README command 1, exactly as the README writes it, on a machine where krater has never
run: it installs what is missing, builds, and serves the embedded defaults (SQLite in
/var/lib/krater, the API on 127.0.0.1:9876, noauth, provider `amphora`, the `public` and
`private` networks), and a load balancer made through it carries traffic.

It runs inside a host namespace made for the test, so port 9876 and the bridges are the
test's own. The default data directory is shared by the whole machine: the test takes it
with an atomic mkdir and is skipped where it already exists (a machine running krater)."""
import os
import signal
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import KRATER_BIN, Krater
from netns import Run

ROOT = Path(__file__).parents[2]
DEFAULT_DATA_DIR = Path("/var/lib/krater")
DEFAULT_BASE_PATH = Path("/run/krater")
REGISTRY = DEFAULT_BASE_PATH / "netns"  # the default base path's namespace registry
BUILD_AND_START_TIMEOUT = 1800  # command 1 builds krater in release mode


def readme_commands():
    """The commands of the README's first bash block, without their comments."""
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


class DefaultKrater(Krater):
    """The clients' side of a `krater serve` started by README command 1 (no --config)."""

    def __init__(self, tmp: Path, run: Run):
        super().__init__(tmp, run)
        self.config.unlink()  # command 1 runs with the embedded defaults


def test_readme_command_1_serves_the_embedded_defaults(tmp_path):
    command = readme_commands()[0]
    assert command == "scripts/run.sh", f"README command 1 changed: {command!r}"
    try:
        DEFAULT_DATA_DIR.mkdir(parents=True)
    except FileExistsError:
        pytest.skip(f"{DEFAULT_DATA_DIR} exists: krater's default data directory is in use")

    run = Run()
    service = DefaultKrater(tmp_path, run)
    log = open(service.log_path, "a")
    process = run.popen("bash", "-c", command, cwd=ROOT, stdout=log,
                        stderr=subprocess.STDOUT, start_new_session=True)
    made_base_path = not DEFAULT_BASE_PATH.exists()
    DEFAULT_BASE_PATH.mkdir(parents=True, exist_ok=True)
    state_before = set(DEFAULT_BASE_PATH.iterdir())
    try:
        deadline = time.time() + BUILD_AND_START_TIMEOUT
        while service.curl(service.base + "/", timeout=2) is None:
            assert process.poll() is None, "command 1 exited:\n" + service.log_path.read_text()[-4000:]
            assert time.time() < deadline, "command 1 did not bring the API up"
            time.sleep(1)

        os_ = service.openstack
        providers = os_("loadbalancer", "provider", "list", "-f", "json")
        assert {p["name"] for p in providers} >= {"amphora", "noop_driver"}
        lb = os_("loadbalancer", "create", "--name", "lb1", "--vip-subnet-id", "public-subnet",
                 "--wait", "-f", "json")
        assert lb["provider"] == "amphora" and lb["vip_address"].startswith("198.18.1.")
        os_("loadbalancer", "listener", "create", "--name", "listener1", "--protocol", "HTTP",
            "--protocol-port", "80", "--wait", "lb1")
        os_("loadbalancer", "pool", "create", "--name", "pool1", "--lb-algorithm",
            "ROUND_ROBIN", "--listener", "listener1", "--protocol", "HTTP", "--wait")
        member = run.add_member("m1", "198.18.2.20")
        os_("loadbalancer", "member", "create", "--subnet-id", "private-subnet", "--address",
            member["address"], "--protocol-port", "80", "--wait", "pool1")
        vip = os_("loadbalancer", "show", "lb1", "-f", "json")["vip_address"]
        assert service.curl(f"http://{vip}/") == "m1"
        assert (DEFAULT_DATA_DIR / "krater.db").is_file(), "SQLite in the default data directory"

        amphora = os_("loadbalancer", "amphora", "list", "-f", "json")[0]
        compute_id = os_("loadbalancer", "amphora", "show", amphora["id"],
                         "-f", "json")["compute_id"]
        os_("loadbalancer", "delete", "--cascade", "--wait", "lb1")
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert compute_id not in listed, "the amphora's namespace is deleted with it"
        new_state = set(DEFAULT_BASE_PATH.iterdir()) - state_before - {REGISTRY}
        assert not new_state, f"the amphora's files are deleted with it: {new_state}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if set(DEFAULT_BASE_PATH.iterdir()) - state_before - {REGISTRY}:
            # A failed run: what an operator would do after it.
            subprocess.run([KRATER_BIN, "cleanup"], capture_output=True, check=False)
        if REGISTRY not in state_before and REGISTRY.exists() and not any(REGISTRY.iterdir()):
            REGISTRY.rmdir()
        shutil.rmtree(DEFAULT_DATA_DIR, ignore_errors=True)
        if made_base_path and not any(DEFAULT_BASE_PATH.iterdir()):
            DEFAULT_BASE_PATH.rmdir()
        run.cleanup(KRATER_BIN)
