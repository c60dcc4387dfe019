"""How the session splits the tests that measure nothing over pytests of their own, and
refuses a measurement in one of them."""

from types import SimpleNamespace

import pytest

import beside


def _items(*nodeids):
    return [SimpleNamespace(nodeid=nodeid) for nodeid in nodeids]


def test_a_modules_tests_stay_together_and_the_groups_come_out_about_even():
    items = _items("a.py::t1", "b.py::t1", "a.py::t2", "c.py::t1", "a.py::t3", "b.py::t2")
    groups = beside.split_by_module(items, 2)
    ids = [[i.nodeid for i in g] for g in groups]
    assert ids == [["a.py::t1", "a.py::t2", "a.py::t3"],
                   ["b.py::t1", "c.py::t1", "b.py::t2"]], "the items' own order in each"
    assert sorted(i for g in ids for i in g) == sorted(i.nodeid for i in items)


def test_more_groups_than_modules_leaves_some_empty():
    groups = beside.split_by_module(_items("a.py::t1", "a.py::t2"), 3)
    assert [len(g) for g in groups] == [2, 0, 0]


@pytest.mark.unmeasured
def test_an_unmeasured_test_that_starts_a_measurement_is_stopped():
    """The guard (conftest) refuses every way a test measures, Locust under each name."""
    import scalelab.load
    from scalelab.load import api, locust, open_rate, pgbench, under_failure, wrk
    from scalelab.measurement import profiler

    for start in (api.run_locust, locust.run_locust, scalelab.load.run_locust, under_failure.run,
                  wrk.start, profiler.record, wrk.wait_until_idle, open_rate.wait_until_idle,
                  pgbench.wait_until_idle):
        with pytest.raises(AssertionError, match="marked 'unmeasured' but measures"):
            start()
