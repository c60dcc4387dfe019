"""The saved-rows checks' own rules, without servers: a check that cannot fail is a defect."""

import pytest

from saved_rows import PAST_CAPACITY_SERVED, served_past_capacity


def test_past_capacity_a_served_rate_that_reaches_the_bound_decides_alone():
    def again():
        raise AssertionError("measured again although the first run decided")

    assert served_past_capacity(0.95, again) == 0.95


def test_past_capacity_one_slowed_window_is_outvoted_by_two_more_runs():
    assert served_past_capacity(0.6, lambda: [0.98, 1.05]) == 0.98


@pytest.mark.parametrize("first, again", [(0.55, [0.6, 0.5]), (0.6, [0.65, 1.0])])
def test_past_capacity_a_server_that_serves_less_under_its_queue_fails(first, again):
    assert served_past_capacity(first, lambda: again) < PAST_CAPACITY_SERVED
