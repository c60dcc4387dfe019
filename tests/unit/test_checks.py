"""The parameter checks refuse by name and say what is allowed."""

import pytest

from scalelab.plumbing.checks import check_number


@pytest.mark.parametrize("value", [0, 100, -1, True, "9", None, float("nan")])
def test_a_number_outside_its_range_or_not_a_number_is_refused_by_name(value):
    with pytest.raises(ValueError, match=r"^q must be a number above 0 and below 100, not "):
        check_number("q", value, 0, 100, low_open=True, high_open=True)


def test_closed_ends_take_their_bounds_and_a_number_comes_back_as_a_float():
    assert check_number("share", 1, 0, 1) == 1.0 and check_number("share", 0, 0, 1) == 0.0
    with pytest.raises(ValueError, match="from 0 and at most 1"):
        check_number("share", 1.01, 0, 1)
