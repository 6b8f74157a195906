"""Runs the real OpenStack Octavia v2 API (the `octavia` package from PyPI) for the
differential test: the pecan WSGI app and the v2 controller worker in one process,
joined by oslo.messaging's in-memory `fake://` transport, with Octavia's noop
compute/network/amphora drivers, noauth and a fresh SQLite database.

    <octavia-venv>/bin/python octavia_server.py --port PORT --workdir DIR

Everything it writes (configuration, database, test CA, the noop drivers' state)
stays in DIR. It serves one request at a time on 127.0.0.1:PORT until killed.
"""
import argparse
import os
import subprocess
import sys
from wsgiref import simple_server

CONF_TEMPLATE = """[DEFAULT]
debug = False
transport_url = fake://
host = krater-differential
# The worker takes one RPC message at a time (see [task_flow] below).
executor_thread_pool_size = 1

[api_settings]
bind_host = 127.0.0.1
bind_port = {port}
auth_strategy = noauth
# the providers krater offers, with krater's descriptions (operator-chosen text; a
# colon or comma cannot be written here, so those of amphora and noop_driver differ)
enabled_provider_drivers = amphora:The krater amphora driver.,octavia:Alias of the amphora driver.,amphorav2:Alias of the amphora driver.,noop_driver:The no-op driver.
default_provider_driver = amphora

[database]
connection = sqlite:///{workdir}/octavia.db
pool_timeout =

[controller_worker]
amphora_driver = amphora_noop_driver
compute_driver = compute_noop_driver
network_driver = network_noop_driver
volume_driver = volume_noop_driver
image_driver = image_noop_driver
loadbalancer_topology = SINGLE
amp_image_tag = amphora
amp_flavor_id = 1
amp_boot_network_list = 00000000-0000-0000-0000-000000000001
amp_secgroup_list = 00000000-0000-0000-0000-000000000002
workers = 1
client_ca = {workdir}/ca.pem

[certificates]
cert_manager = noop_cert_manager
cert_generator = local_cert_generator
ca_certificate = {workdir}/ca.pem
ca_private_key = {workdir}/ca.key

[oslo_messaging]
topic = octavia_prov

[task_flow]
jobboard_enabled = False
# One task at a time: concurrent flows or tasks writing the one SQLite file fail with
# "database is locked" (a deferred transaction cannot wait for another writer).
engine = serial
max_workers = 1
"""


def write_config(port, workdir):
    path = os.path.join(workdir, "octavia.conf")
    with open(path, "w") as f:
        f.write(CONF_TEMPLATE.format(port=port, workdir=workdir))
    # The worker signs a certificate for every (noop) amphora, so it needs a CA.
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", os.path.join(workdir, "ca.key"), "-out", os.path.join(workdir, "ca.pem"),
         "-days", "30", "-subj", "/CN=krater-differential-test-ca"],
        check=True, capture_output=True)
    return path


def sqlite_settings(workdir):
    """busy_timeout and WAL for the databases in workdir: the API thread and the
    worker's threads write the same SQLite file."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    prefix = os.path.realpath(workdir) + os.sep

    @event.listens_for(Engine, "connect")
    def _connect(dbapi_conn, _record):
        if type(dbapi_conn).__module__.startswith("sqlite3"):
            db = dbapi_conn.execute("PRAGMA database_list").fetchone()[2]
            if db and os.path.realpath(db).startswith(prefix):
                dbapi_conn.execute("PRAGMA busy_timeout = 30000")
                dbapi_conn.execute("PRAGMA journal_mode = WAL")


def keep_noop_state_in(workdir):
    """Octavia's noop network and compute drivers share a SQLite file at a fixed path
    in /tmp; give this run its own."""
    from octavia.compute.drivers.noop_driver import driver as compute
    from octavia.network.drivers.noop_driver import driver as network
    path = os.path.join(workdir, "network-noop.db")
    for module in (network, compute):
        original = module.create_engine

        def create_engine(url, *args, _original=original, **kwargs):
            if str(url).startswith("sqlite:///") and "network-noop" in str(url):
                url = "sqlite:///" + path
            return _original(url, *args, **kwargs)
        module.create_engine = create_engine


CAST_DELAY = 0.25


def cast_after_commit():
    """Octavia's API casts to the worker inside its still open transaction. On MySQL
    that is harmless; on SQLite the worker's first write can then meet the API's
    commit and fail at once with "database is locked", leaving the object in ERROR.
    Handing the message over a little later lets the API commit first."""
    import threading
    from octavia.common import rpc

    original = rpc.get_client

    class DeferredCasts:
        def __init__(self, client):
            self._client = client

        def cast(self, ctxt, method, **kwargs):
            threading.Timer(CAST_DELAY, self._client.cast, (ctxt, method),
                            kwargs).start()

        def __getattr__(self, name):
            return getattr(self._client, name)

    def get_client(*args, **kwargs):
        return DeferredCasts(original(*args, **kwargs))
    rpc.get_client = get_client


def create_database(url):
    """The tables from Octavia's models plus its lookup rows (what Octavia's own
    functional tests do; the alembic migrations need ALTER, which SQLite lacks)."""
    from oslo_db.sqlalchemy import enginefacade
    from octavia.common import constants as c
    from octavia.db import base_models, models

    facade = enginefacade.transaction_context()
    facade.configure(connection=url, sqlite_fk=True)
    base_models.BASE.metadata.create_all(facade.writer.get_engine())
    session = facade.writer.get_sessionmaker()()
    lookups = [
        (c.SUPPORTED_PROVISIONING_STATUSES, models.ProvisioningStatus),
        (c.SUPPORTED_HEALTH_MONITOR_TYPES, models.HealthMonitorType),
        (c.SUPPORTED_LB_ALGORITHMS, models.Algorithm),
        (c.SUPPORTED_PROTOCOLS, models.Protocol),
        (c.SUPPORTED_OPERATING_STATUSES, models.OperatingStatus),
        (c.SUPPORTED_SP_TYPES, models.SessionPersistenceType),
        (c.SUPPORTED_AMPHORA_ROLES, models.AmphoraRoles),
        (c.SUPPORTED_LB_TOPOLOGIES, models.LBTopology),
        (c.SUPPORTED_VRRP_AUTH, models.VRRPAuthMethod),
        (c.SUPPORTED_L7RULE_TYPES, models.L7RuleType),
        (c.SUPPORTED_L7RULE_COMPARE_TYPES, models.L7RuleCompareType),
        (c.SUPPORTED_L7POLICY_ACTIONS, models.L7PolicyAction),
        (c.SUPPORTED_CLIENT_AUTH_MODES, models.ClientAuthenticationMode),
    ]
    with session.begin():
        for names, model in lookups:
            for name in names:
                session.add(model(name=name))
        session.flush()
        # Placeholders that deleted load balancers point at.
        session.add(models.FlavorProfile(id=c.NIL_UUID, name="DELETED-PLACEHOLDER",
                                         provider_name=c.DELETED, flavor_data="{}"))
        session.flush()
        session.add(models.Flavor(id=c.NIL_UUID, flavor_profile_id=c.NIL_UUID,
                                  name="DELETED-PLACEHOLDER", enabled=False,
                                  description="Placeholder for DELETED LBs with DELETED flavors"))
        session.flush()
        session.add(models.AvailabilityZoneProfile(
            id=c.NIL_UUID, name="DELETED-PLACEHOLDER", provider_name=c.DELETED,
            availability_zone_data="{}"))
        session.flush()
        session.add(models.AvailabilityZone(
            availability_zone_profile_id=c.NIL_UUID, name=c.NIL_UUID, enabled=False,
            description="Placeholder for DELETED LBs with DELETED availability zones"))


class QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, fmt, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    workdir = os.path.realpath(args.workdir)
    conf_file = write_config(args.port, workdir)

    sqlite_settings(workdir)
    keep_noop_state_in(workdir)
    from oslo_config import cfg
    from octavia.api import app as api_app
    from octavia.common import rpc
    from octavia.controller.queue.v2 import consumer

    app = api_app.setup_app(argv=[sys.argv[0], "--config-file", conf_file])
    create_database(cfg.CONF.database.connection)
    if rpc.TRANSPORT is None:
        rpc.init()
    cast_after_commit()
    worker = consumer.ConsumerService(0, cfg.CONF)
    worker.run()
    server = simple_server.make_server("127.0.0.1", args.port, app, handler_class=QuietHandler)
    print(f"octavia listening on 127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        worker.terminate()


if __name__ == "__main__":
    main()
