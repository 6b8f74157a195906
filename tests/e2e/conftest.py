"""Starts `krater serve` (the binary named by KRATER_BIN) on a free loopback port with
its own data directory, and points the unmodified OpenStack clients at it through a
clouds.yaml (auth_type none, endpoint overrides), exactly as the README documents."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Krater:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = tmp / "krater.toml"
        self.config.write_text(
            f'data_dir = "{tmp / "data"}"\n'
            f"[api_settings]\nbind_port = {self.port}\n"
        )
        self.clouds = tmp / "clouds.yaml"
        self.clouds.write_text(
            "clouds:\n"
            "  krater:\n"
            "    auth_type: none\n"
            "    auth:\n"
            f"      endpoint: {self.base}\n"
            f"    load_balancer_endpoint_override: {self.base}\n"
            f"    network_endpoint_override: {self.base}/network/v2.0\n"
        )
        self.log = open(tmp / "krater.log", "w")
        self.process = None

    def start(self):
        binary = os.environ.get("KRATER_BIN", "target/debug/krater")
        self.process = subprocess.Popen(
            [binary, "--config", str(self.config), "serve"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.base + "/", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("krater serve did not come up; see " + str(self.tmp / "krater.log"))

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def openstack(self, *args, check=True):
        """Runs the openstack CLI; returns parsed JSON when -f json was asked for."""
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(self.clouds), OS_CLOUD="krater")
        done = subprocess.run([str(VENV_BIN / "openstack"), *args], env=env,
                              capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        if "json" in args and done.returncode == 0:
            return json.loads(done.stdout)
        return done


@pytest.fixture
def krater(tmp_path):
    service = Krater(tmp_path)
    service.start()
    yield service
    service.stop()
