"""Caching through the harness: the right backend is used, hits are hits (counted by the
servers themselves), invalidation works, stale reads are counted, nginx runs unprivileged."""

import os
import urllib.request

import psutil
import pytest
from polling import eventually

from scalelab import Stack
from scalelab.plumbing import binaries, paths
from scalelab.experiments import caching as cx
from scalelab.plumbing.http import http_get

pytestmark = [pytest.mark.servers, pytest.mark.unmeasured]  # behaviour only

Q = 2_000
needs_memcached = pytest.mark.skipif(not binaries.find("memcached").ok,
                                     reason="memcached is not installed")


@pytest.fixture(scope="module")
def cstack():
    with Stack(workers=2, questions=Q, cache="redis", proxy="nginx", microcache_ttl=5,
               cache_servers=("memcached",) if binaries.find("memcached").ok else (),
               label="test") as s:
        yield s


def test_redis_is_the_default_backend_and_counts_the_hit(cstack):
    before = cstack.services["redis"].stats()
    http_get(cstack.app_url + "/c/view/")
    _, headers, _ = http_get(cstack.app_url + "/c/view/")
    after = cstack.services["redis"].stats()
    assert headers["X-DB-Queries"] == "0"
    assert after["hits"] > before["hits"]


@needs_memcached
def test_memcached_alias_is_used_when_asked(cstack):
    before = cstack.services["memcached"].stats()
    for _ in range(3):
        assert http_get(cstack.app_url + "/c/probe/?backend=memcached&op=hit&n=5")[0] == 200
    after = cstack.services["memcached"].stats()
    assert after["hits"] - before["hits"] >= 10


def test_nginx_microcache_hits_are_counted_from_its_log(cstack):
    nginx = cstack.services["proxy"]
    before = nginx.stats()
    statuses = [http_get(cstack.base_url + "/tags/python/")[1].get("X-Cache") for _ in range(3)]
    assert statuses[0] in ("MISS", "EXPIRED") and statuses[-1] == "HIT"
    # nginx writes its access log as it answers: read its counters once they show the requests
    eventually(lambda: (lambda a: a["hits"] - before["hits"] >= 2
                        and a["misses"] - before["misses"] >= 1)(nginx.stats()),
               timeout=5, what="nginx's log to count two hits and a miss")


def test_nginx_runs_unprivileged_without_the_nginx_variable(cstack):
    proc = psutil.Process(cstack.services["proxy"].pid)
    if os.geteuid() == 0:
        assert proc.uids().real != 0
    assert "NGINX" not in proc.environ()
    conf = (cstack.services["proxy"].prefix / "nginx.conf").read_text()
    assert "types {" in conf and "proxy_cache_lock on" in conf
    assert str(cstack.services["proxy"].prefix) in conf.split("proxy_temp_path")[1].split(";")[0]


def test_each_server_runs_under_its_own_account(cstack):
    """As root: PostgreSQL as the owner of the database files, the servers that parse what
    clients send (nginx, gunicorn, Redis, memcached) as the lab's user, which owns nothing;
    gunicorn from the runtime copy of the interpreter and the app, in the state folder."""
    if os.geteuid() != 0:
        pytest.skip("servers run as whoever runs the lab when it is not root")
    import pwd

    from scalelab.plumbing.processes import database_user, lab_user

    lab, db = pwd.getpwnam(lab_user()), pwd.getpwnam(database_user())
    assert lab.pw_uid not in (0, db.pw_uid) and lab.pw_shell.endswith("nologin")
    users = {name: psutil.Process(svc.pid).uids().effective
             for name, svc in cstack.services.items() if svc.pid}
    assert users["db"] == db.pw_uid
    for name in ("proxy", "app", "redis", "memcached"):
        if name in users:
            assert users[name] == lab.pw_uid, f"{name} runs as uid {users[name]}"
            workers = psutil.Process(cstack.services[name].pid).children(recursive=True)
            assert all(w.uids().effective == lab.pw_uid for w in workers)
    app = cstack.services["app"]
    runtime_root = str(paths.state_dir() / "runtime")
    assert psutil.Process(app.pid).exe().startswith(runtime_root)
    assert psutil.Process(app.pid).cwd().startswith(runtime_root)


def test_nginx_does_not_say_its_version(cstack):
    status, headers, _ = http_get(cstack.base_url + "/no-such-page/")
    assert status == 404 and headers.get("Server") == "nginx"


def test_static_files_the_app_serves_pass_through_nginx(cstack):
    # static="django" (the default): the app serves them, so nginx passes /static/ on;
    # nginx serving them itself (static="none") is tested in test_static.py
    status, headers, body = http_get(cstack.base_url + "/static/qa/site.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert len(body) > 10_000
    assert "X-DB-Queries" in headers  # Django saw it


def test_invalidation_through_the_stack(cstack):
    qid = cstack.popularity()["question_ids"][0]
    url = f"{cstack.app_url}/c/q/{qid}/?ttl=300&ns=h"
    http_get(url)
    assert http_get(url)[1]["X-DB-Queries"] == "0"
    req = urllib.request.Request(f"{cstack.app_url}/api/questions/{qid}/vote/?ns=h",
                                 method="POST", data=b"")
    urllib.request.urlopen(req, timeout=10).read()
    assert int(http_get(url)[1]["X-DB-Queries"]) > 0


def test_stale_reads_are_counted_for_per_process_caches_only(cstack):
    shared = cx.count_stale_reads(cstack, "redis", trials=5, reads=8)
    local = cx.count_stale_reads(cstack, "locmem", trials=10, reads=10)
    assert shared["stale_reads"] == 0
    assert local["stale_reads"] > 0, "2 workers with local memory must disagree after a write"
    with pytest.raises(ValueError, match="backend must be one of"):
        cx.count_stale_reads(cstack, "varnish")


