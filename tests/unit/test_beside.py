"""How the session splits the tests that measure nothing over pytests of their own."""

from types import SimpleNamespace

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
