"""A PostgreSQL hot standby streaming from the stack's primary (notebook 06).

Made with ``pg_basebackup -R`` (a copy of the primary's cluster that knows how to follow it)
through a physical replication slot of its own, as the primary's unprivileged user, in a data
directory beside the primary's cluster (that user can reach it; up to ``MAX_STANDBYS`` per
cluster, numbered, which the primary's cluster lock makes this stack's alone). ``crash()`` kills it; ``start()`` then
brings it back on its own copy, as a standby restarted after a crash. ``stop()`` stops it, drops its slot on
the primary and removes its data: a slot left behind would make the primary keep WAL for ever.
A slot a killed run left behind is dropped when its cluster is next started
(``Postgres.drop_stale_slots``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from scalelab.servers.base import HOST, Service, ServiceError, wrap_command
from scalelab.servers.password import lab_password
from scalelab.servers.postgres import SUPERUSER, SLOT_PREFIX, Postgres, SqlAccess, server_command


MAX_STANDBYS = 3  # standbys of one primary (the scale model's database tier in 06)
# the lag, read on the primary (its position, and replay_lag for one slot's standby), then on
# the standby (how far its replay is behind that position)
_PRIMARY_SIDE = ("SELECT pg_current_wal_lsn()::text, EXTRACT(EPOCH FROM r.replay_lag)::float8 "
                 "FROM pg_stat_replication r JOIN pg_replication_slots s "
                 "ON s.active_pid = r.pid WHERE s.slot_name = %s")
_REPLICA_SIDE = "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())::float8"


def _pg_ms(ms: int) -> str:
    """How PostgreSQL shows a duration setting of ``ms`` milliseconds."""
    if ms == 0:
        return "0"
    for unit, size in (("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


class PostgresReplica(SqlAccess, Service):
    name = "postgres-replica"
    component = "replica"
    binary = "postgresql"
    account = "database"
    deathsig = "SIGQUIT"
    stop_signal = signal.SIGINT

    def __init__(self, run, primary: Postgres, cpus=None, port=None,
                 log_name: str | None = None, number: int = 1):
        if isinstance(number, bool) or not isinstance(number, int) \
                or not 1 <= number <= MAX_STANDBYS:
            raise ValueError(f"number must be a whole number from 1 to {MAX_STANDBYS}, "
                             f"not {number!r}")
        self.number = number  # 1, 2, ...: its data directory, slot and log say which
        suffix = "" if number == 1 else str(number)
        super().__init__(run, cpus, port, log_name or (self.name + (f"-{number}" if suffix
                                                                    else "")))
        if not primary.running:
            raise ServiceError("the replica needs its primary running first")
        self.primary = primary
        self.slot = SLOT_PREFIX + re.sub(r"[^a-z0-9_]", "_", run.id.lower())[-40:] + \
            (f"_{number}" if suffix else "")

    @property
    def data_dir(self) -> Path:
        suffix = "" if self.number == 1 else str(self.number)
        return self.primary.data_dir.parent / f"{self.primary.cluster}-replica{suffix}"

    def prepare(self) -> None:
        data = self.data_dir
        if self.started_at and (data / "PG_VERSION").exists():
            return  # started again after a crash: it recovers its own copy and catches up
            # through its slot, which kept the primary's WAL meanwhile
        shutil.rmtree(data, ignore_errors=True)  # a copy a killed run left behind
        data.mkdir(mode=0o700)  # made here: the unprivileged user cannot write the parent
        self.primary._chown(data)
        self.primary.drop_slot(self.slot)
        command = wrap_command([str(self.found.path("pg_basebackup")), "-h", HOST, "-p",
                                str(self.primary.port), "-U", SUPERUSER, "-D", str(data),
                                "-X", "stream", "-C", "-S", self.slot, "-R",
                                "--checkpoint=fast", "--no-sync"], user=self.user)
        log = self.run.logs / ("pg_basebackup.log" if self.number == 1
                               else f"pg_basebackup-{self.number}.log")
        try:
            # -R writes the connection, password included, into the copy's own settings
            # (postgresql.auto.conf, 0600, the unprivileged user's): how the standby logs in
            done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                  cwd=str(data.parent),
                                  env=dict(os.environ, PGPASSWORD=lab_password()))
        except subprocess.TimeoutExpired:
            raise ServiceError(f"pg_basebackup did not finish within 600 s (log: {log})") \
                from None
        log.write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            shutil.rmtree(data, ignore_errors=True)
            self.primary.drop_slot(self.slot)
            raise ServiceError(f"pg_basebackup failed ({done.returncode}); its log {log} "
                               f"ends:\n{(done.stdout + done.stderr)[-1500:]}")

    def command(self) -> list[str]:
        settings = {"listen_addresses": HOST, "unix_socket_directories": "",
                    "logging_collector": "off", "log_min_messages": "warning",
                    "hot_standby": "on", "hot_standby_feedback": "on"}
        return server_command(self.found, self.data_dir, self.port, settings)

    def is_ready(self) -> bool:
        """Accepting read-only queries, in recovery, and streaming from the primary."""
        if not self.query("SELECT pg_is_in_recovery()")[0][0]:
            return False
        return bool(self.primary.query(
            "SELECT 1 FROM pg_stat_replication r JOIN pg_replication_slots s "
            "ON s.active_pid = r.pid WHERE s.slot_name = %s AND r.state = 'streaming'",
            (self.slot,)))

    def lag(self) -> dict[str, float]:
        """How far behind the primary it is, once (``lag_probe``'s sample)."""
        with self.lag_probe() as sample:
            return sample()

    @contextlib.contextmanager
    def lag_probe(self) -> Iterator[Callable[[], dict[str, float]]]:
        """For the block, a function that samples the lag on two connections held open, one
        to the primary and one to this replica: WAL bytes between the primary's position
        (``pg_current_wal_lsn()``, read first) and this replica's replay position
        (``pg_last_wal_replay_lsn()``, read at once after, so never ahead of the truth), and
        the primary's ``replay_lag`` for this standby: the time from the primary flushing
        recent WAL to hearing that the standby replayed it (NaN when it has nothing recent
        to time). Held open because opening a connection takes milliseconds, long enough for
        a replica on this machine to catch up: sampled that way, every sample read 0 bytes."""
        with self.primary.connect(autocommit=True) as primary, \
                self.connect(autocommit=True) as replica:
            def sample() -> dict[str, float]:
                rows = primary.execute(_PRIMARY_SIDE, (self.slot,)).fetchall()
                if not rows:
                    raise ServiceError(f"the replica is not streaming from slot {self.slot}; "
                                       f"see {self.log_path}")
                primary_lsn, seconds = rows[0]
                behind = replica.execute(_REPLICA_SIDE, (primary_lsn,)).fetchone()[0]
                return {"lag_bytes": max(0.0, float(behind or 0.0)),
                        "lag_s": float(seconds) if seconds is not None else float("nan")}

            yield sample

    def set_apply_delay(self, ms: int) -> None:
        """Hold each replayed commit back ``ms`` ms (``recovery_min_apply_delay``): a replica
        that lags as one far away or under heavy load does. 0 turns it off."""
        if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= 600_000:
            raise ValueError(f"ms must be whole milliseconds from 0 to 600,000, not {ms!r}")
        with self.connect(autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET recovery_min_apply_delay = '{ms}ms'")
            conn.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 5
        while self.query("SHOW recovery_min_apply_delay")[0][0] != _pg_ms(ms):
            if time.monotonic() > deadline:
                raise ServiceError(f"the replica did not take recovery_min_apply_delay={ms}ms "
                                   f"within 5 s; see {self.log_path}")
            time.sleep(0.02)

    def crash(self) -> None:
        """Kill it at once (SIGKILL of the process group); ``start()`` brings it back on the
        same port (where the app looks for it) and the same copy."""
        self._fixed_port = True
        super().crash()

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.primary.running:
                self.primary.drop_slot(self.slot)
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(data_dir=str(self.data_dir), slot=self.slot, primary_port=self.primary.port)
        return info
