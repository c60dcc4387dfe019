"""01's headroom arithmetic on hand-made rows."""

import math

import pandas as pd
import pytest

from scalelab.experiments.baseline import generator_capacity, generator_headroom


def rows(limits):
    return pd.DataFrame([dict(users=u, limit=lim, generator_load=0.1 * u,
                              generator_cpu_ms_per_req=0.5) for u, lim in limits])


def test_headroom_is_taken_at_the_busiest_server_bound_point():
    h = generator_headroom(rows([(1, "unexplained"), (4, "server"), (8, "server"),
                                 (16, "generator")]), server_req_s=100.0, generator_cpus=1)
    assert h.users == 8 and h.generator_req_s == pytest.approx(2000)
    assert h.ratio == pytest.approx(20)


def test_no_server_bound_point_gives_no_headroom():
    assert generator_headroom(rows([(1, "unexplained"), (2, "generator")]), 100.0, 1) is None


def test_generator_capacity_scales_with_its_cpus_and_is_nan_without_a_cost():
    assert generator_capacity(0.5, 2) == pytest.approx(4000)
    assert math.isnan(generator_capacity(float("nan"), 1))
    assert math.isnan(generator_capacity(0.0, 1))


@pytest.mark.parametrize("cpus", [0, -1, 1.5, True])
def test_generator_cpus_must_be_a_positive_whole_number(cpus):
    with pytest.raises(ValueError, match="generator_cpus"):
        generator_headroom(rows([(1, "server")]), 100.0, cpus)


def _closed():
    return pd.DataFrame([dict(users=u, req_s=x, p50_ms=p50, p99_ms=p99, requests=n)
                         for u, x, p50, p99, n in [(1, 15, 12, 20, 60), (8, 50, 60, 120, 280),
                                                   (32, 80, 350, 420, 320)]])


def _opened():
    return pd.DataFrame([dict(share=s, repeat=r, offered_rate=80 * s, req_s=x, p50_ms=p50,
                              p99_ms=p99, latency_n=n, requests=n, late_share=0.0)
                         for s, r, x, p50, p99, n in [(0.5, 0, 40, 13, 40, 160),
                                                      (0.5, 1, 41, 14, 50, 164),
                                                      (1.2, 0, 79, 900, 1800, 300)]])


def test_each_open_share_sits_beside_the_closed_count_of_nearest_throughput():
    from scalelab.experiments.baseline import closed_and_open

    side = closed_and_open(_closed(), _opened()).set_index("share of capacity")
    assert side.loc[0.5, "closed: users"] == 8  # 40.5 req/s served: 50 is nearer than 15
    assert side.loc[0.5, "open: p99 (ms)"] == pytest.approx(45)  # the median of two repeats
    assert side.loc[1.2, "closed: users"] == 32 and side.loc[1.2, "open: latencies"] == 300
    # the finding the notebook reads: past capacity the open p99 is the queue the closed hides
    assert side.loc[1.2, "open: p99 (ms)"] / side.loc[1.2, "closed: p99 (ms)"] > 4


def test_an_open_sweep_needs_a_capacity_and_shares():
    from scalelab.experiments.baseline import open_sweep

    for capacity in (0, float("nan"), True, "80"):
        with pytest.raises(ValueError, match="capacity_req_s"):
            open_sweep(None, "http://127.0.0.1:1/", capacity)
    for shares in ([], [0], [4], "0.5", [True]):
        with pytest.raises(ValueError, match="shares must"):
            open_sweep(None, "http://127.0.0.1:1/", 80.0, shares=shares)


def test_the_knee_solution_puts_this_runs_d_and_r_into_the_formula():
    from scalelab.experiments.baseline import knee_solution
    from scalelab.verdicts.analysis import Capacity

    # two server CPUs at 60 CPU-ms a request: 30 ms of the server's time a request
    cap = Capacity(33.3, 30.0, 36.0, 60.0, 2, 4)
    queue = pd.DataFrame({"users": [4, 1], "R (ms)": [110.0, 32.0], "Z (ms)": [50.0, 50.0]})
    text = knee_solution(queue, cap, think=(1, 3))
    assert "D = 30 ms" in text and "1 user R was 32 ms" in text and "Z = 2 s" in text
    assert "(32 + 2,000) ÷ 30 ≈ **67.7 users**" in text  # 2,032 / 30
    assert "25 times the knee" in text                    # 67.7 / ((32 + 50) / 30)


def test_without_a_server_bound_point_the_knee_solution_has_no_d_and_says_so():
    from scalelab.experiments.baseline import knee_solution
    from scalelab.verdicts.analysis import Capacity

    cap = Capacity(math.nan, math.nan, math.nan, math.nan, 1, 0)
    queue = pd.DataFrame({"users": [1], "R (ms)": [32.0], "Z (ms)": [50.0]})
    assert knee_solution(queue, cap, think=(1, 3)).startswith("No point of this run")
    with pytest.raises(ValueError, match="think must be"):
        knee_solution(queue, cap, think=(3, 1))


def _side(share, offered, served, p99):
    return pd.DataFrame({"share of capacity": [0.5, share], "offered (req/s)": [20.0, offered],
                         "open: served (req/s)": [20.0, served], "open: p99 (ms)": [40.0, p99]})


def test_the_longer_window_solution_doubles_the_queue_past_capacity():
    from scalelab.experiments.baseline import longer_window_solution

    text = longer_window_solution(_side(1.2, 60.0, 50.0, 700.0), window_s=4)
    # (60 − 50) × 4 ÷ 50 = 0.8 s for the latest arrival; twice that with twice the window
    assert "At 120% of capacity 60.0 requests a second were offered and 50.0 served" in text
    assert "= 800 ms" in text and "about 1,600 ms" in text and "**1,400 ms**" in text


def test_the_longer_window_solution_says_when_no_queue_grew():
    from scalelab.experiments.baseline import longer_window_solution

    assert "The server kept up" in longer_window_solution(_side(1.2, 60.0, 60.0, 90.0), 4)
    assert longer_window_solution(_side(0.9, 45.0, 45.0, 90.0), 4).startswith("This run offered")
