"""Notebook 09's open load on real servers: it keeps its rate whatever the server does
(below capacity its point is limited by the rate; above, the queue shows as latency and the
point is server-bound) and leaves nothing running. The check run's rows and the predictions
the notebook shows are checked on 09's own run (``saved_rows``)."""

import psutil
import pytest

from scalelab import Stack
from scalelab.load import open_rate

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def cstack():
    with Stack(questions=2_000, workers=2, label="test-capacity") as s:
        yield s


def generators_running():
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if "scalelab.load.open_rate" in " ".join(p.info["cmdline"] or []):
                found.append(p.pid)
        except psutil.Error:
            continue
    return found


def test_below_capacity_the_offered_rate_limits_the_point(cstack):
    rec = open_rate.point(cstack, cstack.app_url + "/", rate=10, duration=3, warmup=1,
                          variant="10/s")
    assert rec["generator"] == "open" and rec["limit"] == "rate", rec
    assert 10 <= rec["offered"] <= 55  # Poisson: 30 expected in 3 s
    assert rec["failures"] == 0 and rec["late_share"] * rec["offered"] < open_rate.LATE_MIN
    assert rec["server_cpus_busy"] < 0.95 and rec["cpu_ms_per_req_server"] > 0
    assert rec["p50_ms"] <= rec["p99_ms"] < 1000
    # Little's law from the generator's own records (an identity, up to the window's edges)
    assert rec["in_flight_mean"] == pytest.approx(rec["req_s"] * rec["mean_ms"] / 1000, rel=0.5)
    assert not generators_running()


def test_above_capacity_the_queue_shows_as_latency_not_a_lower_rate(cstack):
    # the N+1 home page (about three times the home page's CPU): 100/s is several times what
    # one core serves, even on a small data set and a fast machine, and few enough for the
    # Python generator to send; a queue builds for 2 s
    slow = open_rate.point(cstack, cstack.app_url + "/d/home/naive/", rate=100, duration=2,
                           warmup=0, variant="100/s")
    # never passed off as a point at its offered rate (the server, or the generator juggling
    # the queue's connections, limited it)
    assert slow["limit"] != "rate"
    assert slow["offered"] > 150  # the open load sent what it was asked to, answered or not
    assert slow["p99_ms"] > 1000  # the requests waited in the queue
    assert not generators_running()
