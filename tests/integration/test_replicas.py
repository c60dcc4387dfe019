"""Several app servers behind nginx (notebook 05): requests are spread over them, a killed one
is detected and its requests move, it comes back on its port, nothing of it survives; the
session stores that survive a balancer, and the one that does not."""

import json
import time
import urllib.request

import psutil
import pytest

from scalelab import Stack
from scalelab.load import wrk
from scalelab.experiments import replicas as rx

pytestmark = pytest.mark.servers

Q = 2_000


def pid_of(url):
    with urllib.request.urlopen(url + "/s/login/?user=1", timeout=10) as resp:
        return json.loads(resp.read())["pid"]


@pytest.fixture(scope="module")
def two():
    with Stack(replicas=2, workers=1, proxy="nginx", questions=Q, label="test-replicas") as s:
        yield s


def test_nginx_spreads_requests_over_the_app_servers_round_robin(two):
    assert len({r.port for r in two.replicas}) == 2, "each app server on a port of its own"
    seen = [pid_of(two.base_url) for _ in range(6)]
    assert len(set(seen)) == 2 and seen[0::2] == [seen[0]] * 3, seen
    assert len(two.component_pids()["app"]) == 2


def test_a_killed_app_server_is_detected_its_requests_move_and_it_comes_back(two):
    victim = two.replicas[1]
    port, tree = victim.port, [victim.pid] + [p.pid for p in
                                             psutil.Process(victim.pid).children(recursive=True)]
    two.crash_replica(2)
    assert not [p for p in tree if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE], "its workers died too"
    statuses = [urllib.request.urlopen(two.base_url + "/health/", timeout=10).status
                for _ in range(6)]
    assert statuses == [200] * 6, "nginx passed the failed requests to the other server"
    two.restore_replica(2)
    assert victim.running and victim.port == port, "back on the port nginx knows"
    seen, deadline = set(), time.monotonic() + 3 * 2 + 2  # nginx retries it after fail_timeout
    while len(seen) < 2 and time.monotonic() < deadline:
        seen.add(pid_of(two.base_url))
        time.sleep(0.1)
    assert len(seen) == 2, "and back in the rotation once nginx tries it again"


def test_a_crash_under_load_is_counted_second_by_second(two):
    rows = rx.crash(two, seconds=4, crash_at=1, restore_at=2.5, clients=4, post_share=0.25)
    assert list(rows.second) == [0, 1, 2, 3]
    s = rx.crash_summary(rows)
    assert s["answered"] > 50 and s["failed_gets"] <= 4, s
    assert s["votes_counted"] >= s["votes_answered"] > 0, "no answered vote is missing"
    assert two.replicas[1].running


@pytest.mark.unmeasured  # its own stack, behaviour only
def test_least_conn_and_post_retries_reach_nginx_and_bad_settings_are_refused():
    with Stack(replicas=2, proxy="nginx", balance="least_conn", retry_post=True, questions=Q,
               label="test-least-conn") as st:
        conf = (st.services["proxy"].prefix / "nginx.conf").read_text()
        assert "least_conn;" in conf and "non_idempotent" in conf
        assert conf.count("max_fails=1") == 2
    with pytest.raises(ValueError, match="replicas"):
        Stack(replicas=2)
    with pytest.raises(ValueError, match="balance"):
        Stack(replicas=2, proxy="nginx", balance="random")
    with pytest.raises(ValueError, match="replicas"):
        Stack(replicas=0, proxy="nginx")


def test_bad_replica_numbers_and_crash_timings_are_refused(two):
    with pytest.raises(ValueError, match="n must be"):
        two.crash_replica(3)
    with pytest.raises(ValueError, match="crash_at"):
        rx.crash(two, seconds=4, crash_at=3, restore_at=2)


@pytest.mark.parametrize("engine, loses", [
    pytest.param("per-process memory", True, marks=pytest.mark.unmeasured),  # no wrk point
    ("database", False), ("signed cookies", False)])
def test_only_the_per_process_session_store_loses_visitors(engine, loses):
    with rx.session_stack(engine, replicas=2, questions=Q) as st:
        lost = rx.count_lost(st, users=4, requests=6)
        assert lost["processes_seen"] == 2
        assert (lost["lost"] > 0) == loses, lost
        if not loses:
            cookie = rx._login(st.base_url, 7)
            row = wrk.point(st, st.base_url + "/s/me/", 2, 1, 0, headers={"Cookie": cookie})
            assert row["failures"] == 0 and row["requests"] > 0, "wrk sent the session cookie"
