"""Only the lab logs in to its databases: PostgreSQL, its replica and PgBouncer (the admin
console included) refuse a client without the lab's password, or with another one."""

import os
import pwd
import stat

import psutil

import psycopg
import pytest

from scalelab.plumbing.processes import lab_user
from scalelab.plumbing.runs import Run
from scalelab.servers import PgBouncer, Postgres, PostgresReplica
from scalelab.servers.base import HOST
from scalelab.servers.password import lab_password, password_file
from scalelab.servers.postgres import SUPERUSER

pytestmark = [pytest.mark.servers, pytest.mark.unmeasured]  # behaviour only


def refused(port: int, dbname: str = "postgres", **extra) -> str:
    """The error a client gets with ``extra`` (no password by default); fails if it gets in."""
    params = {"user": SUPERUSER, "passfile": "/nonexistent/.pgpass", **extra}  # not even ~/.pgpass
    try:
        conn = psycopg.connect(host=HOST, port=port, dbname=dbname, connect_timeout=3,
                               autocommit=True, **params)
    except psycopg.OperationalError as exc:
        return str(exc)
    conn.close()
    raise AssertionError(f"port {port} let a client in with {extra or 'no password'}")


@pytest.fixture(scope="module")
def primary():
    run = Run.create("test")
    pg = Postgres(run).start()
    yield pg
    pg.stop()
    run.close()


def test_the_password_file_is_the_owners_alone():
    lab_password()
    mode = password_file().stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(password_file().parent.stat().st_mode) == 0o700


def test_postgres_refuses_a_client_without_the_password(primary):
    assert primary.query("SELECT current_user") == [(SUPERUSER,)]
    assert "password" in refused(primary.port)
    assert "password authentication failed" in refused(primary.port, password="guess")
    assert "no pg_hba.conf entry" in refused(primary.port, user="postgres", password="x")


def test_pgbouncer_and_its_admin_console_refuse_a_client_without_the_password(run, primary):
    bouncer = PgBouncer(run, primary.port).start()
    try:
        assert bouncer.pools()["clients_waiting"] == 0  # the lab gets in, password given
        for dbname in ("pgbouncer", "postgres"):
            assert "password" in refused(bouncer.port, dbname)
            assert "authentication failed" in refused(bouncer.port, dbname,
                                                               password="guess")
        if os.geteuid() == 0:  # the lab's user, which can read its user list and nothing else
            assert psutil.Process(bouncer.pid).uids().effective == \
                pwd.getpwnam(lab_user()).pw_uid
        users = bouncer.folder / "users.txt"
        assert stat.S_IMODE(users.stat().st_mode) == 0o600
    finally:
        bouncer.stop()


def test_the_replica_follows_with_the_password_and_refuses_without(run, primary):
    replica = PostgresReplica(run, primary).start()
    try:
        assert replica.query("SELECT pg_is_in_recovery()") == [(True,)]
        assert "password" in refused(replica.port)
    finally:
        replica.stop()
