"""Each server behind the contract: start, ready, stop the whole group, logs, version."""

import os
import socket
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from scalelab.plumbing import paths, runs
from scalelab.servers import Postgres, Redis, ServiceError
from scalelab.servers import base as services_base

pytestmark = [pytest.mark.servers, pytest.mark.unmeasured]  # behaviour only


def gone(pids, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                   for p in pids):
            return True
        time.sleep(0.2)
    return False


def test_postgres_runs_unprivileged_on_loopback_and_stops_with_its_backends(run):
    pg = Postgres(run).start()
    try:
        assert pg.query("SELECT 1") == [(1,)]
        proc = psutil.Process(pg.pid)
        if os.geteuid() == 0:
            assert proc.uids().real != 0, "PostgreSQL must not run as root"
            assert not str(pg.data_dir).startswith("/root")
        listen = {c.laddr.ip for c in proc.net_connections(kind="inet") if c.status == "LISTEN"}
        assert listen == {"127.0.0.1"}
        pids = [pg.pid] + [c.pid for c in proc.children(recursive=True)]
        assert pg.version.startswith(pg.major) and pg.log_path.exists()
    finally:
        pg.stop()
    assert gone(pids)
    assert not pg.running


def test_redis_counts_hits_and_misses(run):
    r = Redis(run).start()
    try:
        with r.client() as c:
            c.set("k", "v")
            c.get("k")
            c.get("missing")
        stats = r.stats()
        assert stats["hits"] == 1 and stats["misses"] == 1 and stats["keys"] == 1
    finally:
        r.stop()


def test_a_port_already_taken_is_reported(run):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        with pytest.raises(ServiceError, match=f"port {taken} on 127.0.0.1 is taken"):
            Redis(run, port=taken).start()


def test_a_port_taken_between_choosing_and_binding_is_retried(run, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        ports = iter([taken, services_base.free_port()])
        monkeypatch.setattr(services_base, "free_port", lambda: next(ports))
        r = Redis(run).start()
        try:
            assert r.port != taken and r.is_ready()
        finally:
            r.stop()


def test_a_server_that_fails_to_start_shows_its_log(run):
    pg = Postgres(run, settings={"shared_buffers": "lots"})
    with pytest.raises(ServiceError, match="(?s)exited with code.*shared_buffers"):
        pg.start()
    assert not pg.running


def test_servers_die_with_their_owner_even_on_sigkill(tmp_path):
    """The parent-death signal: kill -9 the owner, the servers follow."""
    code = textwrap.dedent(f"""
        import os, sys, time
        from scalelab.plumbing.runs import Run
        from scalelab.servers import Postgres, Redis
        run = Run.create("orphan-test")
        pg, r = Postgres(run).start(), Redis(run).start()
        print(pg.pid, r.pid, flush=True)
        time.sleep(120)
    """)
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             cwd=paths.PROJECT_ROOT)
    try:
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert len(pids) == 2 and all(psutil.pid_exists(p) for p in pids)
        children = [c.pid for c in psutil.Process(pids[0]).children(recursive=True)]
    finally:
        owner.kill()
        owner.wait()
    assert gone(pids + children, timeout=15), "servers outlived their SIGKILLed owner"


def test_the_reaper_spares_a_live_owners_processes():
    """Another harness that is alive (a second test run, `scalelab up`) keeps its servers."""
    code = textwrap.dedent("""
        import os, subprocess, sys, time
        from scalelab.plumbing import runs
        env = dict(os.environ, **{runs.OWNER_VAR: runs.owner_token()})
        child = subprocess.Popen(["sleep", "60"], env=env)
        print(child.pid, flush=True)
        time.sleep(60)
    """)
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             cwd=paths.PROJECT_ROOT)
    try:
        child = int(owner.stdout.readline())
        assert child not in runs.reap_stale()
        assert psutil.pid_exists(child)
    finally:
        owner.kill()
        owner.wait()
    # its owner gone, the next reaper takes it (another pytest of ours may reap first)
    assert child in runs.reap_stale() or gone([child], timeout=5)
