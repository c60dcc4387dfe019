"""analysis.py on hand-made rows: summaries over repeats, the knee, capacity from cost."""

import math

import pandas as pd
import pytest

from scalelab.verdicts.analysis import knee, summarize, utilisation_capacity


def test_summarize_gives_mean_min_max_and_cv_per_group_and_the_worst_limit():
    df = pd.DataFrame({"users": [1, 1, 2, 2], "repeat": [0, 1, 0, 1],
                       "req_s": [10.0, 12.0, 20.0, 20.0],
                       "limit": ["server", "server", "server", "generator"]})
    s = summarize(df, metrics=("req_s",), by=("users",)).set_index("users")
    assert s.loc[1, "req_s"] == 11 and s.loc[1, "req_s_min"] == 10 and s.loc[1, "req_s_max"] == 12
    assert s.loc[1, "req_s_cv"] == pytest.approx(pd.Series([10.0, 12.0]).std() / 11)
    assert s.loc[2, "limit"] == "generator"  # any flagged repeat marks the group
    assert (s["repeats"] == 2).all()


def test_summarize_has_no_cv_from_a_single_run():
    df = pd.DataFrame({"users": [1, 2], "req_s": [10.0, 20.0]})
    assert summarize(df, metrics=("req_s",), by=("users",))["req_s_cv"].isna().all()


def test_the_knee_is_where_doubling_the_load_adds_less_than_a_tenth():
    summary = pd.DataFrame({"users": [1, 2, 4, 8], "req_s": [10.0, 19.0, 20.0, 20.5]})
    assert knee(summary)["users"] == 2
    rising = summary.assign(req_s=[10.0, 20.0, 40.0, 80.0])
    assert knee(rising)["users"] == 8  # never flattens: the last point


def test_a_curve_that_falls_as_load_grows_warns_before_its_knee_is_read():
    summary = pd.DataFrame({"users": [1, 2, 4, 8], "req_s": [10.0, 20.0, 15.0, 21.0]})
    with pytest.warns(UserWarning, match="fell by more than 10%"):
        knee(summary)


def test_the_knee_leaves_out_failed_and_generator_bound_points():
    summary = pd.DataFrame({"users": [1, 2, 4, 8], "req_s": [10.0, 20.0, 21.0, 90.0],
                            "limit": ["unexplained", "server", "server", "failures"]})
    assert knee(summary)["users"] == 2  # the 'fast' failing point at 8 users is not the curve
    with pytest.raises(ValueError, match="no point"):
        knee(summary.assign(limit="generator"))


def test_capacity_comes_from_server_bound_cost_only():
    rows = pd.DataFrame({"cpu_ms_per_req_server": [10.0, 20.0, 5.0],
                         "limit": ["server", "server", "unexplained"]})
    cap = utilisation_capacity(rows, server_cpus=1)
    assert cap.req_s == pytest.approx(1000 / 15) and cap.points == 2
    assert cap.low == pytest.approx(50) and cap.high == pytest.approx(100)
    none = utilisation_capacity(rows.assign(limit="generator"), server_cpus=1)
    assert math.isnan(none.req_s) and none.points == 0
