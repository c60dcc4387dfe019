"""The open load on real servers: below capacity its point is limited by the rate, up to 2,000
a second on a page nginx caches, and it leaves nothing running. Past capacity (the queue
shows as latency, the point is server-bound, and what it served is what wrk measured) is
checked on 09's own check run, with the predictions the notebook shows (``saved_rows``)."""

import psutil
import pytest

from scalelab import Stack
from scalelab.load import open_rate

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def cstack():
    # nginx in front with its microcache: a page it serves faster than the generator sends
    with Stack(questions=2_000, workers=2, proxy="nginx", microcache_ttl=10,
               label="test-capacity") as s:
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


def test_the_open_load_keeps_a_schedule_of_2000_a_second_on_the_cached_page(cstack):
    rec = open_rate.point(cstack, cstack.base_url + "/", rate=2000, duration=2, warmup=1,
                          variant="2000/s")
    assert rec["late_share"] < 0.01 and rec["unsent"] == 0 and rec["failures"] == 0, rec
    assert rec["limit"] == "rate" and 3_400 <= rec["offered"] <= 4_600  # Poisson: 4,000
    assert rec["req_s"] == pytest.approx(2000, rel=0.15)
    assert not generators_running()
