"""PostgreSQL: one cluster per PostgreSQL major version, kept between runs with its seeded data.

PostgreSQL refuses to run as root, so as root the cluster belongs to an unprivileged user
(``postgres`` if it exists, else ``nobody``; ``SCALELAB_SERVICE_USER`` overrides) and lives
in the state directory, which that user can reach (never under /root). TCP on 127.0.0.1 only,
no Unix socket; the lab's role ``scalelab`` logs in with the lab's password
(:mod:`scalelab.servers.password`, scram-sha-256), and no other role may log in at all.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil
import psycopg

from scalelab.plumbing import paths
from scalelab.servers.base import HOST, Service, ServiceError, wrap_command
from scalelab.servers.password import lab_password

SUPERUSER = "scalelab"
MAX_CLUSTERS = 8  # stacks that may run at once, each on a cluster of its own
SLOT_PREFIX = "scalelab_"  # replication slots of the lab's standbys (postgres_replica.py)
LAB_CLIENT = "scalelab-lab"  # application_name of the lab's own queries: counts leave them out



# What the lab sets itself, so that PostgreSQL listens on loopback only, keeps its files where
# the lab put them and logs where the run's log is: a stack's pg_settings may not change them.
LAB_SETTINGS = frozenset({
    "listen_addresses", "unix_socket_directories", "port", "data_directory", "config_file",
    "hba_file", "ident_file", "external_pid_file", "logging_collector", "log_directory",
    "log_filename", "shared_preload_libraries", "ssl", "archive_command", "restore_command",
    "archive_library", "password_encryption", "local_preload_libraries",
    "session_preload_libraries", "dynamic_library_path", "unix_socket_permissions",
    "unix_socket_group"})



def check_settings(settings: dict[str, Any], parameter: str = "pg_settings") -> None:
    """Refuse, by name, the settings the lab sets itself (``LAB_SETTINGS``): loopback only,
    its own files, logs and libraries."""
    odd = sorted(str(k) for k in settings if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", str(k)))
    if odd:
        raise ValueError(f"{parameter} must name PostgreSQL settings (letters, digits, '_', "
                         f"'.'), not {', '.join(map(repr, odd))}")
    # PostgreSQL reads a '-' in a name given with -c as '_' (listen-addresses)
    taken = sorted(k for k in settings if str(k).lower().replace("-", "_") in LAB_SETTINGS)
    if taken:
        raise ValueError(f"{parameter} may not set {', '.join(taken)}: the lab sets them "
                         "itself (loopback only, its own files and logs); allowed are "
                         "PostgreSQL's other settings, e.g. shared_buffers or work_mem")


# Who may log in, and how: the lab's role, with its password, from loopback only.
HBA = f"""# written by scalelab at every start: the lab's role, with its password, loopback only
host    all             {SUPERUSER}        127.0.0.1/32    scram-sha-256
host    all             {SUPERUSER}        ::1/128         scram-sha-256
host    replication     {SUPERUSER}        127.0.0.1/32    scram-sha-256
host    replication     {SUPERUSER}        ::1/128         scram-sha-256
"""
AUTH_MARK = "scalelab-auth"  # in the data folder: a digest of the password the role was given

class SqlAccess:
    """Connections and queries to a PostgreSQL server of the lab (``self.port``), as the
    loopback superuser: the primary's and the replica's, one way."""

    port: int | None

    def conninfo(self, dbname: str = "postgres") -> dict[str, Any]:
        return {"host": HOST, "port": self.port, "user": SUPERUSER, "dbname": dbname,
                "password": lab_password()}

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        """A connection of the lab's own, named ``LAB_CLIENT`` so that a count of the app's
        connections can leave it out."""
        return psycopg.connect(**self.conninfo(dbname), connect_timeout=3,
                               application_name=LAB_CLIENT, **kwargs)

    def query(self, sql: str, params=None, dbname: str = "postgres") -> list[tuple]:
        with self.connect(dbname, autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []


def server_command(found, data_dir: Path, port: int, settings: dict[str, str]) -> list[str]:
    """``postgres -D <data> -p <port> -c key=value ...``: how the lab starts a server."""
    command = [str(found.path()), "-D", str(data_dir), "-p", str(port)]
    for key, value in settings.items():
        command += ["-c", f"{key}={value}"]
    return command


class Postgres(SqlAccess, Service):
    name = "postgres"
    component = "db"
    binary = "postgresql"
    account = "database"
    deathsig = "SIGQUIT"          # immediate shutdown: the postmaster takes its backends along
    stop_signal = signal.SIGINT   # fast shutdown: roll back, disconnect, exit

    def __init__(self, run, cpus=None, port=None, cluster: str | None = None,
                 settings: dict[str, Any] | None = None, log_name: str | None = None):
        super().__init__(run, cpus, port, log_name)
        self._cluster_fixed = cluster is not None
        self.cluster = cluster or "main"
        check_settings(settings or {}, "settings")
        self.settings = dict(settings or {})

    def _in_use(self) -> bool:
        """Another live postmaster holds this cluster."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            return psutil.pid_exists(pid) and "postgres" in psutil.Process(pid).name()
        except (OSError, ValueError, IndexError, psutil.Error):
            return False

    def _make_parents(self) -> None:
        for parent in reversed(self.data_dir.parents[:3]):
            parent.mkdir(parents=True, exist_ok=True)
            parent.chmod(0o755)  # the unprivileged user must traverse these

    def _lock(self) -> bool:
        """Take this cluster for this stack alone, or return False if another stack has it.

        The lock (``flock`` on ``<cluster>.lock`` beside the cluster) is held from before
        initdb until stop, so creating, starting and seeding a cluster never race with another
        process; the kernel releases it when its owner dies, however it dies."""
        self._make_parents()
        fd = os.open(self.data_dir.parent / f"{self.cluster}.lock", os.O_RDWR | os.O_CREAT,
                     0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _unlock(self) -> None:
        fd, self._lock_fd = getattr(self, "_lock_fd", None), None
        if fd is not None:
            os.close(fd)

    def start(self) -> "Postgres":
        """Start on the first cluster no other stack is using (main, main-1, ...).

        Each cluster keeps its own seeded data sets, so a second stack running at the same
        time seeds once and then reuses its cluster too."""
        if self.running:
            return super().start()
        # once started, the server comes back on its own cluster (after a crash, say)
        names = [self.cluster] if self._cluster_fixed or self.started_at else \
            ["main" if i == 0 else f"main-{i}" for i in range(MAX_CLUSTERS)]
        for name in names:
            self.cluster = name
            if not self._lock():
                continue
            if self._in_use():  # a postmaster started without the lock (an older harness)
                self._unlock()
                continue
            first = not self.started_at
            try:
                super().start()
            except BaseException:
                self._unlock()
                raise
            if first:  # settings a killed run changed at run time (set_runtime) are cleared
                self.set_runtime({})
            self.drop_stale_slots()
            # standbys' copies a killed run left beside this cluster (this stack's alone)
            for copy in self.data_dir.parent.glob(f"{self.cluster}-replica*"):
                shutil.rmtree(copy, ignore_errors=True)
            return self
        if self._cluster_fixed:
            raise ServiceError(f"PostgreSQL cluster {self.cluster!r} in {self.data_dir.parent} "
                               "is in use by another running stack")
        raise ServiceError(f"all {MAX_CLUSTERS} PostgreSQL clusters in "
                           f"{self.data_dir.parent} are in use by running stacks; stop one "
                           "(`scalelab down`, or finish a notebook) and retry")

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self._unlock()

    def crash(self) -> None:
        """Kill the postmaster and every backend at once (SIGKILL of the process group), as a
        power cut would to the processes (not to the disk: what reached the OS stays).
        ``start()`` brings it back on the same cluster and port, through crash recovery."""
        self._fixed_port = True  # where its clients look for it
        try:
            super().crash()
        finally:
            self._unlock()

    @property
    def major(self) -> str:
        return self.version.split(".")[0]

    @property
    def data_dir(self) -> Path:
        return paths.state_dir() / "postgres" / f"pg{self.major}" / self.cluster

    def _chown(self, path: Path) -> None:
        user = self.user
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def prepare(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._require_password()

    def _initdb(self) -> None:
        data = self.data_dir
        self._make_parents()
        if data.exists():
            shutil.rmtree(data)  # a half-made cluster from an interrupted initdb
        data.mkdir(mode=0o700)
        self._chown(data)
        command = wrap_command([str(self.found.path("initdb")), "-D", str(data), "-U", SUPERUSER,
                                "-A", "reject", "-E", "UTF8", "--no-locale", "--no-sync"],
                               user=self.user)
        result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                                cwd=str(data.parent))
        if result.returncode != 0:
            shutil.rmtree(data, ignore_errors=True)
            raise ServiceError(f"initdb failed (exit {result.returncode}):\n"
                               f"{(result.stdout + result.stderr)[-2000:]}")

    def _require_password(self) -> None:
        """Give the lab's role the lab's password (in single-user mode, through stdin: the
        password is in no command line and no log) unless it has it already, and let it log
        in with nothing else. A cluster an older lab made with trust authentication is
        brought to this on its next start."""
        password = lab_password()
        digest = hashlib.sha256(password.encode()).hexdigest()
        mark = self.data_dir / AUTH_MARK
        if not (mark.exists() and mark.read_text().strip() == digest):
            command = wrap_command([str(self.found.path()), "--single", "-D", str(self.data_dir),
                                    "-c", "password_encryption=scram-sha-256",
                                    "-c", "log_min_error_statement=panic", "postgres"],
                                   user=self.user)
            done = subprocess.run(command, input=f"ALTER ROLE {SUPERUSER} PASSWORD "
                                  f"'{password}';\n", capture_output=True, text=True,
                                  timeout=120, cwd=str(self.data_dir.parent))
            if done.returncode != 0 or "ERROR" in done.stdout + done.stderr:
                raise ServiceError(f"could not give the role {SUPERUSER} its password "
                                   f"(exit {done.returncode}):\n{done.stderr[-1500:]}")
            self._write_owned(mark, digest + "\n")
        self._write_owned(self.data_dir / "pg_hba.conf", HBA)

    def _write_owned(self, path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o600)
        self._chown(path)

    def command(self) -> list[str]:
        settings = {  # keys of LAB_SETTINGS: a stack's pg_settings may not change them
            "listen_addresses": HOST,
            "unix_socket_directories": "",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "password_encryption": "scram-sha-256",
        }
        if (Path(self.found.path()).parent.parent / "lib" / "pg_stat_statements.so").exists():
            settings["shared_preload_libraries"] = "pg_stat_statements"
        settings.update({k: str(v) for k, v in self.settings.items()})
        return server_command(self.found, self.data_dir, self.port, settings)

    def is_ready(self) -> bool:
        with self.connect(autocommit=True) as conn:
            conn.execute("SELECT 1")
        return True

    def ensure_database(self, dbname: str) -> bool:
        """Create the database if missing; return True when it was created."""
        if self.query("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)):
            return False
        with self.connect(autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return True

    def set_runtime(self, settings: dict[str, Any]) -> None:
        """Change settings that need no restart, on the running server and every session
        (``ALTER SYSTEM``, then a reload); ``{}`` puts every one back. They outlive a crash,
        as a real server's would; a stack's next start clears them. Settings given at start
        (``settings``, ``-c``) win over these."""
        from psycopg import sql

        check_settings(settings, "settings")
        with self.connect(autocommit=True) as conn:
            if not settings:
                conn.execute("ALTER SYSTEM RESET ALL")
            for key, value in settings.items():
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    sql.Identifier(key), sql.Literal(str(value))))
            conn.execute("SELECT pg_reload_conf()")

    def drop_slot(self, slot: str) -> None:
        """Drop replication slot ``slot`` if it exists and no standby uses it."""
        self.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                   "WHERE slot_name = %s AND NOT active", (slot,))

    def drop_stale_slots(self) -> list[str]:
        """Drop the lab's inactive replication slots: this cluster is this stack's alone (its
        lock), so a slot of ours with no standby on it was left by a run that was killed; it
        would make the primary keep WAL for ever."""
        rows = self.query("SELECT slot_name FROM pg_replication_slots WHERE NOT active AND "
                          "slot_name LIKE %s", (SLOT_PREFIX + "%",))
        for (slot,) in rows:
            self.drop_slot(slot)
        return [slot for (slot,) in rows]

    def drop_database(self, dbname: str) -> None:
        with self.connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(data_dir=str(self.data_dir), binaries=str(self.found.path().parent),
                    source=self.found.source, settings=self.settings)
        return info
