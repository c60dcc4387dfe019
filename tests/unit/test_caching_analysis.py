"""The caching notebook's probe arithmetic, on hand-made rows: including the runs where a point
was not server-bound, which must give a row that says so, never a crash (a CI run once lost
the whole notebook to a 'none' baseline at 94% busy)."""

import math

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from scalelab.experiments import caching as cx
from scalelab import plots


def probe_rows(bound=None, ops=10):
    """'none' at 1 ms; a hit adds 10 µs per op in redis, 2 µs in locmem; misses add 20 µs."""
    rows = []
    extra = {"none": 0, "locmem hit": 0.002, "locmem miss": 0.004, "redis hit": 0.010,
             "redis miss": 0.020}
    for variant, add in extra.items():
        for repeat in (0, 1):
            app = 1.0 + add * ops * 0.5
            cache = add * ops * 0.5
            rows.append({"variant": variant, "repeat": repeat,
                         "cpu_ms_per_req_server": app + cache, "cpu_ms_per_req_app": app,
                         "cpu_ms_per_req_db": 0.0, "cpu_ms_per_req_cache": cache,
                         "server_bound": True if bound is None else bound(variant, repeat)})
    return pd.DataFrame(rows)


def test_cost_of_one_operation_is_the_difference_per_op():
    t = cx.cost_per_operation(probe_rows(), 10).set_index(["backend", "operation"])
    assert t.loc[("redis", "hit"), "us_per_op"] == pytest.approx(10)
    assert t.loc[("locmem", "miss"), "us_per_op"] == pytest.approx(4)
    assert t.loc[("redis", "miss"), "us_cache"] == pytest.approx(10)
    assert (t.points == 2).all() and (t.note == "").all()


def test_a_baseline_without_a_server_bound_point_gives_nan_rows_and_a_note():
    rows = probe_rows(bound=lambda v, r: v != "none")
    t = cx.cost_per_operation(rows, 10)
    assert len(t) == 4 and t.us_per_op.isna().all()
    assert t.note.str.contains("'none' baseline").all()
    text = cx.describe_operation_costs(t, uncached_page_ms=5.0)
    assert "No cache hit could be costed" in text
    plots.operation_costs(t)  # draws 'not costed', does not raise


def test_a_probe_without_a_server_bound_point_is_named_in_the_narrative():
    rows = probe_rows(bound=lambda v, r: v != "redis hit")
    t = cx.cost_per_operation(rows, 10).set_index(["backend", "operation"])
    assert math.isnan(t.loc[("redis", "hit"), "us_per_op"])
    assert t.loc[("redis", "miss"), "us_per_op"] == pytest.approx(20)
    text = cx.describe_operation_costs(t.reset_index(), uncached_page_ms=5.0)
    assert "Not costed in this run (no server-bound point): redis" in text
    assert "locmem" in text


@pytest.mark.parametrize("ops", [0, -1, 2.5, True, "10"])
def test_ops_per_request_must_be_a_positive_whole_number(ops):
    with pytest.raises(ValueError, match="ops_per_request"):
        cx.cost_per_operation(probe_rows(), ops)
