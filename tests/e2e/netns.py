"""Network namespaces for end-to-end tests: a host namespace per test run (where
`krater serve` runs and creates its bridges) and one namespace per member, each with a
unique name. Every namespace is recorded in the run's registry under
/run/krater-e2e/<run>/netns, so that `krater cleanup` removes what a killed run left.
Runs live outside krater's default base path (/run/krater), which README command 1
uses, so that test runs in parallel never see each other's amphorae."""
import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

STATE_ROOT = Path("/run/krater-e2e")


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


class Run:
    """One test run's namespaces and amphora base path."""

    def __init__(self, run_id=None):
        self.id = run_id or uuid.uuid4().hex[:8]
        self.base_path = STATE_ROOT / self.id
        self.host = f"kt-{self.id}"
        self.members = []
        if run_id is None:
            (self.base_path / "netns").mkdir(parents=True, exist_ok=True)
            self.add_namespace(self.host)

    @classmethod
    def existing(cls, run_id):
        """A run made by another process (the benchmark re-runs itself inside it)."""
        return cls(run_id)

    def add_namespace(self, name):
        (self.base_path / "netns" / name).touch()
        ip("netns", "add", name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    def exec(self, *cmd, **kwargs):
        """Runs a command inside the host namespace."""
        return subprocess.run(["ip", "netns", "exec", self.host, *cmd], **kwargs)

    def popen(self, *cmd, **kwargs):
        return subprocess.Popen(["ip", "netns", "exec", self.host, *cmd], **kwargs)

    def add_client_addresses(self, count):
        """`count` more addresses of the host namespace on the VIP network (198.18.1.2
        and up, below the subnet's allocation pool), for clients that differ by their
        source address (`curl --interface <address>`); at most 8."""
        assert count <= 8, "198.18.1.10 and up are the VIP network's allocation pool"
        out = ip("-j", "-n", self.host, "addr", "show").stdout
        device = next(link["ifname"] for link in json.loads(out) for a in link["addr_info"]
                      if a["local"] == "198.18.1.1")
        addresses = [f"198.18.1.{2 + i}" for i in range(count)]
        for address in addresses:
            ip("-n", self.host, "addr", "add", f"{address}/24", "dev", device)
        return addresses

    def add_member(self, name, address, bridge="kr-mem0", port=80, tls=None):
        """A member namespace on the members' bridge, serving its name over HTTP (over
        HTTPS with `tls`, a (certificate, key) pair of paths)."""
        ns = self.add_namespace(f"kt-{self.id}-{name}")
        link = f"kv{self.id[:4]}{name}"[:15]
        ip("-n", self.host, "link", "add", link, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        ip("-n", self.host, "link", "set", link, "master", bridge, "up")
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        member = {"name": name, "ns": ns, "address": address, "port": port, "tls": tls}
        self.start_member(member)
        self.members.append(member)
        return member

    def start_member(self, member):
        """(Re)starts the member's server."""
        member["server"] = subprocess.Popen(
            ["ip", "netns", "exec", member["ns"], "python3",
             str(Path(__file__).with_name("member_server.py")), member["name"],
             member["address"], str(member["port"]), *(member.get("tls") or ())],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_member(self, member):
        member["server"].kill()
        member["server"].wait()

    def cleanup(self, krater_bin):
        """`krater cleanup` on the run's base path: the host and member namespaces and
        every amphora of the run go, with their processes."""
        for member in self.members:
            if member["server"].poll() is None:
                self.stop_member(member)
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as config:
            config.write(f'[haproxy_amphora]\nbase_path = "{self.base_path}"\n')
            config.flush()
            subprocess.run([krater_bin, "--config", config.name, "cleanup"],
                           capture_output=True, check=False)
        leftovers = [name for name in ip("netns", "list").stdout.split()
                     if self.id in name]
        assert not leftovers, f"namespaces left behind: {leftovers}"
        files = [p for p in self.base_path.rglob("*") if not p.is_dir()]
        assert not files, f"files left behind: {files}"
        shutil.rmtree(self.base_path, ignore_errors=True)
