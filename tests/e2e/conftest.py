"""Starts `krater serve` (the binary named by KRATER_BIN) with its own data directory and
points the unmodified OpenStack clients at it through a clouds.yaml (auth_type none,
endpoint overrides), exactly as the README documents.

`krater` runs the API alone (noop drivers, on loopback); `dataplane` runs the whole
embedded default inside a host namespace made for the test, with real amphorae.

With KRATER_E2E_POSTGRES_URL naming a PostgreSQL server (scripts/test.sh starts one),
each `krater` service stores in a new database of its own on that server instead of
SQLite in its data directory."""
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from netns import Run

VENV_BIN = Path(sys.executable).parent
KRATER_BIN = os.environ.get("KRATER_BIN", str(Path(__file__).parents[2] / "target/debug/krater"))


POSTGRES_URL = os.environ.get("KRATER_E2E_POSTGRES_URL")


def new_postgres_database(server_url):
    """A new, empty database on the server; returns its URL."""
    name = f"kt_{uuid.uuid4().hex}"
    subprocess.run(["psql", server_url, "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {name}"],
                   check=True, capture_output=True)
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clients:
    """The unmodified OpenStack clients (and curl) pointed at one krater API, run inside
    the test's host namespace when there is one."""

    def __init__(self, tmp: Path, run: Run, port: int):
        self.tmp = tmp
        self.run = run
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.clouds = tmp / f"clouds-{port}.yaml"
        self.clouds.write_text(
            "clouds:\n"
            "  krater:\n"
            "    auth_type: none\n"
            "    auth:\n"
            f"      endpoint: {self.base}\n"
            f"    load_balancer_endpoint_override: {self.base}\n"
            f"    network_endpoint_override: {self.base}/network/v2.0\n"
        )
        self.log_path = tmp / "krater.log"

    def _cmd(self, *cmd):
        return ["ip", "netns", "exec", self.run.host, *cmd] if self.run else list(cmd)

    def openstack(self, *args, check=True):
        """Runs the openstack CLI; returns parsed JSON when -f json was asked for."""
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(self.clouds), OS_CLOUD="krater")
        done = subprocess.run(self._cmd(str(VENV_BIN / "openstack"), *args), env=env,
                              capture_output=True, text=True, timeout=180)
        if check and done.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
                                 f"\n--- krater log ---\n{self.log_path.read_text()[-4000:]}")
        if "json" in args and done.returncode == 0:
            return json.loads(done.stdout)
        return done

    def api(self, method, path, body=None):
        """A call to the REST API itself, for requests the CLI cannot make; returns the
        parsed answer."""
        cmd = ["curl", "-s", "-X", method, "-H", "Content-Type: application/json",
               self.base + path]
        if body is not None:
            cmd += ["-d", json.dumps(body)]
        done = subprocess.run(self._cmd(*cmd), capture_output=True, text=True, check=True)
        return json.loads(done.stdout) if done.stdout else None

    def curl(self, url, timeout=5):
        """The answer's body, None when curl failed."""
        done = self.curl_run(url, timeout)
        return done.stdout.strip() if done.returncode == 0 else None

    def curl_run(self, url, timeout=5):
        """curl's run, exit status and output."""
        return subprocess.run(self._cmd("curl", "-s", "-m", str(timeout), url),
                              capture_output=True, text=True)


class Krater(Clients):
    """`krater serve` with its own data directory and the clients pointed at it."""

    def __init__(self, tmp: Path, run: Run = None, haproxy_cmd: str = None,
                 health_manager: str = "heartbeat_timeout = 10\n", sections: str = ""):
        super().__init__(tmp, run, 9876 if run else free_port())
        self.config = tmp / "krater.toml"
        text = f'data_dir = "{tmp / "data"}"\n[api_settings]\nbind_port = {self.port}\n'
        if run:
            text += f'[haproxy_amphora]\nbase_path = "{run.base_path}"\n'
            if haproxy_cmd:
                text += f'haproxy_cmd = "{haproxy_cmd}"\n'
            # Tests of other things keep a long stale timeout, so that a machine
            # starved for a few seconds never fails their amphora over; the failover
            # tests choose their own.
            text += "[health_manager]\nheartbeat_interval = 1\n" + health_manager + sections
        else:
            text += '[controller_worker]\namphora_drivers = "noop"\n'
            if POSTGRES_URL:
                text += f'[database]\nconnection = "{new_postgres_database(POSTGRES_URL)}"\n'
        self.config.write_text(text)
        self.process = None
        self.krater_bin = KRATER_BIN

    def start(self):
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            self._cmd(KRATER_BIN, "--config", str(self.config), "serve"),
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            done = subprocess.run(self._cmd("curl", "-sf", "-o", "/dev/null", self.base + "/"))
            if done.returncode == 0:
                return
            assert self.process.poll() is None, "krater serve exited:\n" + self.log_path.read_text()
            time.sleep(0.2)
        raise RuntimeError("krater serve did not come up:\n" + self.log_path.read_text())

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def krater(tmp_path):
    service = Krater(tmp_path)
    service.start()
    yield service
    service.kill()


def started_dataplane(tmp_path, **options):
    run = Run()
    service = Krater(tmp_path, run, **options)
    try:
        service.start()
        yield service
    finally:
        service.kill()
        run.cleanup(KRATER_BIN)


@pytest.fixture
def dataplane(tmp_path):
    yield from started_dataplane(tmp_path)


@pytest.fixture
def broken_haproxy_dataplane(tmp_path):
    """The embedded default whose amphorae run a HAProxy that refuses every
    configuration: each change that reaches an amphora fails."""
    yield from started_dataplane(tmp_path, haproxy_cmd="/bin/false")
