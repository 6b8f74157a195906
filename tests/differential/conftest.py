"""Starts the real Octavia (octavia_server.py in the cached virtualenv that
scripts/setup.sh makes) and `krater serve` with noop amphora drivers side by side, each
on a free loopback port with its own temporary directory, for the differential test."""
import ctypes
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
KRATER_BIN = os.environ.get("KRATER_BIN", str(ROOT / "target/debug/krater"))
START_TIMEOUT = 120


def octavia_python():
    if os.environ.get("KRATER_OCTAVIA_PYTHON"):
        return os.environ["KRATER_OCTAVIA_PYTHON"]
    digest = hashlib.sha256((HERE / "octavia-constraints.txt").read_bytes()).hexdigest()[:12]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "krater", f"octavia-venv-{digest}", "bin", "python")


def die_with_parent():
    """Runs in the child before exec: SIGTERM to it when the test process dies, so that
    not even a killed pytest leaves a server behind (Linux prctl PR_SET_PDEATHSIG)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, cmd, port, log_path, env=None):
        self.name, self.port, self.log_path = name, port, log_path
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                        env=env, preexec_fn=die_with_parent)

    def wait_up(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/", timeout=5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not come up in {START_TIMEOUT} s:\n{self.log_tail()}")

    def log_tail(self):
        self.log.flush()
        return Path(self.log_path).read_text(errors="replace")[-4000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def servers(request):
    python = octavia_python()
    if not os.path.exists(python):
        pytest.fail(f"no Octavia virtualenv at {python}: run scripts/setup.sh")
    tmp = Path(tempfile.mkdtemp(prefix="krater-differential-"))
    started = []
    try:
        (tmp / "octavia").mkdir()
        oport = free_port()
        octavia = Server("octavia", [python, str(HERE / "octavia_server.py"), "--port",
                                     str(oport), "--workdir", str(tmp / "octavia")],
                         oport, tmp / "octavia.log",
                         # the same set order in every run (Octavia prints sets)
                         env=dict(os.environ, PYTHONHASHSEED="0"))
        started.append(octavia)
        kport = free_port()
        config = tmp / "krater.toml"
        config.write_text(f'data_dir = "{tmp / "krater-data"}"\n'
                          f'[api_settings]\nbind_port = {kport}\n'
                          '[controller_worker]\namphora_drivers = "noop"\n')
        krater = Server("krater", [KRATER_BIN, "--config", str(config), "serve"], kport,
                        tmp / "krater.log")
        started.append(krater)
        octavia.wait_up()
        krater.wait_up()
        yield octavia, krater
    finally:
        for server in started:
            server.stop()
        if os.environ.get("KRATER_DIFF_KEEP_TMP") == "1" or request.session.testsfailed:
            # both servers' logs, for a failure on either side
            print(f"differential: logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def subnet_ids(krater_base):
    """krater's two local subnets (stable ids); Octavia's noop network driver
    accepts any subnet id, so both sides are given these."""
    with urllib.request.urlopen(krater_base + "/network/v2.0/subnets", timeout=10) as r:
        subnets = {s["name"]: s["id"] for s in json.load(r)["subnets"]}
    return {"pub": subnets["public-subnet"], "priv": subnets["private-subnet"]}


SUMMARY = {}


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.write_line(SUMMARY["line"])
        if SUMMARY.get("report"):
            terminalreporter.write_line(f"differential: every difference is in {SUMMARY['report']}")
