"""krater's roles as separate processes (`krater api`, `worker`, `health-manager`,
`housekeeping`) on one database, inside a test host namespace: for tests of what
happens between processes — a worker that dies, stalls or fails at a chosen task.

Every process enters the host namespace with `nsenter --net`, not `ip netns exec`:
they keep the machine's mount namespace, so the amphora namespaces one worker names
are visible to the next one, as on a real host.

The roles share one SQLite file, or, with KRATER_E2E_POSTGRES_URL naming a PostgreSQL
server (scripts/test.sh starts one), a new database of their own on it."""
import datetime
import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conftest import KRATER_BIN, POSTGRES_URL, Clients, new_postgres_database
from netns import Run

FAILPOINT_EXIT_CODE = 86


class Role:
    """One running `krater <role>` process."""

    def __init__(self, plane, role, name, config, env):
        self.name = name
        self.log_path = plane.tmp / f"{name}.log"
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{plane.run.host}", "--",
             KRATER_BIN, "--config", str(config), role],
            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))

    @property
    def pid(self):
        return self.process.pid

    def log(self):
        return self.log_path.read_text()

    def logged_at(self, text):
        """When the process first logged a line holding `text` (seconds since the
        epoch), from the line's own UTC timestamp; None while it has not."""
        for line in self.log().splitlines():
            stamp = re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})\d*Z", line)
            if text in line and stamp:
                when = datetime.datetime.fromisoformat(stamp[1])
                return when.replace(tzinfo=datetime.timezone.utc).timestamp()
        return None

    def wait_exit(self, timeout):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} did not exit:\n{self.log()[-3000:]}")

    def is_stopped(self):
        """True while the process is stopped by a signal (state T)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        return any(line.startswith("State:") and "T" in line.split()[1]
                   for line in status.splitlines())

    def terminate(self):
        """SIGTERM and wait: the role stops gracefully."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class ControlPlane:
    """The roles of one control plane: their configuration, their processes, the
    clients of each API, and a view of the database."""

    def __init__(self, tmp: Path, run: Run, lease_seconds: int = 2):
        self.tmp, self.run = tmp, run
        self.data_dir = tmp / "data"
        self.sqlite_path = self.data_dir / "krater.db"
        self.database = (new_postgres_database(POSTGRES_URL) if POSTGRES_URL
                         else f"sqlite://{self.sqlite_path}")
        self.lease_seconds = lease_seconds
        self.roles = []

    def config(self, api_port=9876, health_manager="", name="plane"):
        """The configuration of one role (`health_manager`: more lines of that
        section); each role has its own file, written before it starts."""
        path = self.tmp / f"krater-{name}.toml"
        path.write_text(
            f'data_dir = "{self.data_dir}"\n'
            f'[api_settings]\nbind_port = {api_port}\n'
            f'[database]\nconnection = "{self.database}"\n'
            f'[haproxy_amphora]\nbase_path = "{self.run.base_path}"\n'
            "[controller_worker]\npoll_interval_ms = 100\n"
            f"job_lease_seconds = {self.lease_seconds}\ntask_retries = 2\n"
            # A long stale timeout unless a test sets its own: these tests stop and
            # starve processes on purpose.
            "[health_manager]\nheartbeat_interval = 1\n"
            + (health_manager or "heartbeat_timeout = 10\n"))
        return path

    def upgrade(self):
        done = subprocess.run([KRATER_BIN, "--config", str(self.config()), "db", "upgrade"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    def start(self, role, name, api_port=9876, env=None, health_manager=""):
        process = Role(self, role, name, self.config(api_port, health_manager, name), env)
        self.roles.append(process)
        return process

    def start_api(self, name="api", port=9876, health_manager=""):
        """A `krater api` and the clients pointed at it, once it answers."""
        api = self.start("api", name, port, health_manager=health_manager)
        clients = Clients(self.tmp, self.run, port)
        clients.log_path = api.log_path
        deadline = time.time() + 60
        while clients.curl(clients.base + "/", timeout=2) is None:
            assert api.process.poll() is None, f"{name} exited:\n{api.log()}"
            assert time.time() < deadline, f"{name} did not come up:\n{api.log()}"
            time.sleep(0.2)
        return clients

    def stop_all(self):
        for role in self.roles:
            role.terminate()

    def snapshot(self):
        """Every row of every table, to prove that nothing was written."""
        if POSTGRES_URL:
            def psql(sql):
                done = subprocess.run(["psql", self.database, "-Atc", sql], check=True,
                                      capture_output=True, text=True)
                return done.stdout.splitlines()
            tables = psql("SELECT table_name FROM information_schema.tables "
                          "WHERE table_schema = current_schema() ORDER BY 1")
            return {t: sorted(psql(f"SELECT * FROM {t}")) for t in tables}
        with sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True) as db:
            tables = [row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            return {t: sorted(map(repr, db.execute(f"SELECT * FROM {t}"))) for t in tables}

    def amphora_namespaces(self):
        """The amphora namespaces this run made and that still exist."""
        registry = self.run.base_path / "netns"
        return sorted(p.name for p in registry.iterdir() if p.name.startswith("amp-"))


@pytest.fixture
def plane(tmp_path):
    """A control plane in a host namespace of its own, its schema upgraded; every role
    stopped and the run's namespaces and amphorae removed afterwards. The end of each
    role's log is printed, which pytest shows when the test failed."""
    run = Run()
    control = ControlPlane(tmp_path, run)
    control.upgrade()
    try:
        yield control
    finally:
        control.stop_all()
        for role in control.roles:
            print(f"--- {role.name}: end of log\n" + "\n".join(role.log().splitlines()[-40:]))
        run.cleanup(KRATER_BIN)
