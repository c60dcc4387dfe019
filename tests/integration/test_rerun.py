"""A notebook cell run again: its stack replaces the earlier one, and nothing is left that
nothing can stop."""

import pytest
import psutil

from scalelab import Stack
from scalelab.servers import stack as stack_module

pytestmark = [pytest.mark.servers, pytest.mark.unmeasured]  # behaviour only

TEST_QUESTIONS = 2_000  # the integration tests' data set (conftest.py)


def _alive(pids):
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def test_a_cell_run_again_in_a_kernel_replaces_its_stack(monkeypatch):
    monkeypatch.setattr(stack_module, "_in_notebook_kernel", lambda: True)
    first = Stack(questions=TEST_QUESTIONS, label="test-rerun").start()
    first_pids = [p for ps in first.component_pids().values() for p in ps]
    second = Stack(questions=TEST_QUESTIONS, label="test-rerun").start()
    try:
        assert first.run is None and not first.services
        assert not _alive(first_pids), "the earlier stack's servers must be stopped"
        assert Stack.running() == [second]
        other = Stack(questions=TEST_QUESTIONS, label="test-other").start()  # another label
        assert set(map(id, Stack.running())) == {id(second), id(other)}
    finally:
        assert Stack.stop_all() == 2
    assert Stack.running() == []


def test_outside_a_kernel_two_stacks_may_share_a_label():
    with Stack(questions=TEST_QUESTIONS, label="test-rerun") as a, \
            Stack(questions=TEST_QUESTIONS, label="test-rerun") as b:
        assert a.services and b.services
