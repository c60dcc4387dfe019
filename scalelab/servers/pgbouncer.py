"""PgBouncer: a connection pooler between the app and PostgreSQL (notebook 07).

Transaction pooling: a server connection is lent to a client for one transaction, so many
app connections share ``pool_size`` PostgreSQL connections and the ones over that wait in
PgBouncer's queue instead of being refused. Runs as the unprivileged user (PgBouncer refuses
root), with its config in a folder of its own under the state directory; the lab's role logs
in with the lab's password (scram-sha-256, to PgBouncer and from it to PostgreSQL), the admin
console included. Its log goes to stderr, into
the run's log. ``pools()`` reads its admin console: clients waiting, server connections.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal

import psycopg

from scalelab.plumbing import paths
from scalelab.plumbing.checks import check_int
from scalelab.servers.base import HOST, Service
from scalelab.servers.password import lab_password
from scalelab.servers.postgres import SUPERUSER

POOL_SIZE = (1, 1000)


class PgBouncer(Service):
    name = "pgbouncer"
    component = "pooler"
    binary = "pgbouncer"
    account = "lab"
    stop_signal = signal.SIGINT   # safe shutdown: wait for clients' transactions to end
    deathsig = "SIGTERM"          # immediate shutdown

    def __init__(self, run, db_port: int, cpus=None, port=None, pool_size: int = 4,
                 log_name: str | None = None):
        super().__init__(run, cpus, port, log_name)
        check_int("pool_size", pool_size, *POOL_SIZE)
        check_int("db_port", db_port, 1, 65535)
        self.db_port = db_port
        self.pool_size = pool_size
        self.folder = paths.state_dir() / "pgbouncer" / run.id

    def config(self) -> str:
        return f"""[databases]
* = host={HOST} port={self.db_port}

[pgbouncer]
listen_addr = {HOST}
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.folder / "users.txt"}
admin_users = {SUPERUSER}
pool_mode = transaction
default_pool_size = {self.pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 1000
max_db_connections = {self.pool_size}
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile =
pidfile =
log_connections = 0
log_disconnections = 0
"""

    def prepare(self) -> None:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.folder.parent.chmod(0o755)
        self.folder.mkdir(mode=0o700, exist_ok=True)
        users = self.folder / "users.txt"
        fd = os.open(users, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f'"{SUPERUSER}" "{lab_password()}"\n')

    def command(self) -> list[str]:
        path = self.folder / "pgbouncer.ini"
        path.write_text(self.config())  # now that the port is chosen
        user = self.user
        if user is not None:
            entry = pwd.getpwnam(user)
            for p in (self.folder, path, self.folder / "users.txt"):
                os.chown(p, entry.pw_uid, entry.pw_gid)
        return [str(self.found.path()), str(path)]

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(host=HOST, port=self.port, user=SUPERUSER, dbname="pgbouncer",
                               password=lab_password(),
                               connect_timeout=3, autocommit=True, prepare_threshold=None)

    def is_ready(self) -> bool:
        with self._admin() as conn:
            conn.execute("SHOW VERSION")
        return True

    def pools(self) -> dict[str, int]:
        """Now, over every pool: clients waiting for a server connection, server connections
        open (in use or idle)."""
        with self._admin() as conn:
            cur = conn.execute("SHOW POOLS")
            names = [c.name for c in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
        rows = [r for r in rows if r.get("database") != "pgbouncer"]
        return {"clients_waiting": sum(int(r.get("cl_waiting", 0)) for r in rows),
                "server_connections": sum(int(r.get("sv_active", 0)) + int(r.get("sv_idle", 0))
                                          + int(r.get("sv_used", 0)) for r in rows)}

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def describe(self) -> dict:
        info = super().describe()
        info.update(pool_size=self.pool_size, pool_mode="transaction", db_port=self.db_port)
        return info
