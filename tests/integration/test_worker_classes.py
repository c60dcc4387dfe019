"""Every worker class starts and serves both kinds of endpoint; the slow upstream waits."""

import os
import time

import psutil
import pytest

from scalelab import Stack
from scalelab.experiments import workers
from scalelab.servers import SlowUpstream
from scalelab.plumbing.http import http_get

# behaviour only (one request per endpoint, its own stack): beside the other tests
pytestmark = [pytest.mark.servers, pytest.mark.unmeasured]


def _run_as_the_lab_user(procs):
    """As root, every process that parses what clients send runs as the lab's user, which
    owns nothing (gunicorn and uvicorn with their workers, the slow upstream)."""
    if os.geteuid() != 0:
        return  # servers run as whoever runs the lab when it is not root
    import pwd

    from scalelab.plumbing.processes import lab_user

    uid = pwd.getpwnam(lab_user()).pw_uid
    assert uid != 0
    assert {p.uids().effective for p in procs} == {uid}, [p.cmdline()[:2] for p in procs]


@pytest.mark.parametrize("config", workers.configurations(1, "quick"), ids=lambda c: c.label)
def test_every_worker_class_serves_both_endpoints(config):
    with Stack(server=config.server, worker_class=config.worker_class, workers=config.workers,
               threads=config.threads, questions=2_000, upstream=True, label="test") as s:
        for name, wl in workers.endpoints(s, config, wait_ms=20).items():
            url = wl.pages["p"][1]
            t0 = time.perf_counter()
            status, _, body = http_get(url, timeout=10)
            elapsed = time.perf_counter() - t0
            assert status == 200, (name, body[:200])
            if name == "io-bound":
                assert body.startswith(b"upstream said ok") and elapsed >= 0.02
        app = psutil.Process(s.app.pid)
        procs = [app] + app.children(recursive=True)
        upstream = psutil.Process(s.services["upstream"].pid)
        _run_as_the_lab_user(procs + [upstream] + upstream.children(recursive=True))
        if config.server == "gunicorn":
            assert len(procs) == config.workers + 1  # the master and its workers
            assert f"--threads {config.threads}" in " ".join(app.cmdline())


def test_the_slow_upstream_waits_and_refuses_bad_input(run):
    up = SlowUpstream(run).start()
    try:
        _run_as_the_lab_user([psutil.Process(up.pid)])
        t0 = time.perf_counter()
        assert http_get(f"{up.url}/?ms=100", timeout=10)[0] == 200
        assert time.perf_counter() - t0 >= 0.1
        assert http_get(f"{up.url}/?ms=lots", timeout=10)[0] == 400
    finally:
        up.stop()
