"""The scale model's hosts on real servers: a server and every process it forks run in its
host, which gives its quota and no more; every host is gone when its stack stops, and when
its owner was killed, once the reaper has run. That hosts of q and 2q cores serve in
proportion is checked on 05's calibration, as the suite runs it (``saved_rows``)."""

import subprocess
import sys
import textwrap

import psutil
import pytest

from scalelab import Stack
from scalelab.plumbing import hosts, http, paths, runs
from polling import eventually

# behaviour only (who runs in which host, what is left): beside the other tests
pytestmark = [pytest.mark.servers, pytest.mark.unmeasured,
              pytest.mark.skipif(not hosts.support()[0], reason=hosts.support()[1])]


def _tree(pid):
    return {pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))}


def _in(host, pid) -> bool:
    """Every live process of ``pid``'s tree is in ``host`` (one that ended meanwhile, as a
    backend whose connection closed, is left out)."""
    tree, inside = _tree(pid), set(host.pids())
    return {p for p in tree if psutil.pid_exists(p)} <= inside


def test_a_server_and_what_it_forks_run_in_its_host_which_goes_with_the_stack():
    with Stack(workers=2, questions=2_000, hosts={"app": 0.25, "db": 0.5},
               label="test-hosts") as stack:
        app, db = stack.hosts["app"], stack.hosts["db"]
        assert app.quota_us / app.period_us == 0.25 and db.quota_us / db.period_us == 0.5
        assert _in(app, stack.app.pid) and _in(db, stack.db.pid)
        # a backend PostgreSQL forks for a new connection is born in the database's host
        with stack.db.connect() as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            assert backend in db.pids()
        stack.reconfigure(workers=3)  # the app server restarts, then goes into the same host
        assert len(_tree(stack.app.pid)) == 4 and _in(app, stack.app.pid)
        # the kernel's own count of the host's CPU, in ns, grows as the host works
        before = app.usage_s()
        assert stack.app.pid in app.pids() and before > 0
        with http.Client(stack.app_url) as client:
            for _ in range(5):
                client.request("GET", "/")
        assert app.usage_s() > before
        # before a stack stops, its servers leave their hosts (shutdown at full speed)
        moved = db.release()
        assert stack.db.pid in moved and not db.pids() and stack.db.query("SELECT 1")
        folders = [app.path, db.path]
    assert not any(f.exists() for f in folders) and not folders[0].parent.exists()


def test_the_hosts_of_a_killed_owner_are_removed_by_the_reaper():
    code = textwrap.dedent("""
        import time
        from scalelab import Stack
        stack = Stack(workers=1, questions=2_000, hosts={"app": 0.25}, label="test-host-orphan")
        stack.start()
        print(stack.hosts["app"].path, stack.app.pid, flush=True)
        time.sleep(120)
    """)
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             cwd=paths.PROJECT_ROOT)
    try:
        folder, pid = owner.stdout.readline().split()
    finally:
        owner.kill()
        owner.wait()
    from pathlib import Path

    folder = Path(folder)
    eventually(lambda: not psutil.pid_exists(int(pid)), timeout=15,
               what="the app server to follow its killed owner")
    # its owner gone, the next reaper removes its hosts: this one, or another pytest's that ran
    # first (beside this one, each run's start reaps the machine's stale hosts)
    runs.reap_stale()
    assert not folder.exists() and not folder.parent.exists()


def test_three_standbys_in_hosts_share_the_reads_and_cover_for_a_killed_one():
    """The database tier of 06's scale model: three streaming standbys, each in a host of its
    own (entered once the stack is up: their base backups ran at full speed); the router
    spreads reads over all three, and when one is killed the others take its reads."""
    with Stack(read_replica=3, workers=1, questions=2_000, label="test-standbys",
               hosts={"db": 1 / 8, "replica": 1 / 8}) as stack:
        standbys = stack.standbys
        assert [s.number for s in standbys] == [1, 2, 3]
        assert len({s.data_dir for s in standbys} | {s.slot for s in standbys}) == 6
        for key, standby in zip(("replica", "replica-2", "replica-3"), standbys):
            assert _in(stack.hosts[key], standby.pid) and standby.is_ready()
        folders = [h.path for h in stack.hosts.values()]

        def reads(n):
            """Queries by database alias over ``n`` reads, and the reads that failed."""
            by, failed = {}, 0
            with http.Client(stack.app_url, timeout=10) as client:
                for _ in range(n):
                    resp = client.request("GET", "/api/questions/1/")
                    if resp.status >= 500:
                        failed += 1
                        continue
                    for item in resp.header("X-DB-Queries-By-Alias").split(","):
                        alias, _, count = item.partition("=")
                        by[alias] = by.get(alias, 0) + int(count or 0)
            return by, failed

        spread, failed = reads(60)
        assert failed == 0 and set(spread) == {"replica", "replica2", "replica3"}, spread
        assert min(spread.values()) >= 5, spread  # each about a third
        standbys[1].crash()
        after, failed = reads(30)
        # the one worker finds it gone on one read (which fails), then reads elsewhere
        assert failed <= 1 and after.get("replica", 0) > 0 and after.get("replica3", 0) > 0
        assert after.get("replica2", 0) <= 1, after
    assert not stack.hosts and not any(folder.exists() for folder in folders)
