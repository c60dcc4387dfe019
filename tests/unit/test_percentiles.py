"""How many requests a percentile rests on, and the note that says when too few."""

import pandas as pd
import pytest

from scalelab.measurement import percentiles


def test_the_requests_beyond_a_p99_are_a_hundredth_of_the_window():
    rows = pd.DataFrame({"requests": [100, 999, 1000, 5000]})
    assert list(percentiles.beyond(rows, 99)) == [1, 9, 10, 50]
    assert list(percentiles.thin(rows, 99)) == [True, True, False, False]
    assert percentiles.needed(99) == 1000 and percentiles.needed(50) == 20
    assert list(percentiles.beyond(rows, 50)) == [50, 499, 500, 2500]


def test_an_open_loads_own_count_is_used_where_it_has_one():
    rows = pd.DataFrame({"requests": [2000, 2000], "latency_n": [500, float("nan")]})
    assert list(percentiles.samples(rows)) == [500, 2000]
    assert list(percentiles.thin(rows)) == [True, False]


def test_the_note_names_the_thin_windows_or_says_there_are_none():
    assert "no p99" in percentiles.note(pd.DataFrame({"requests": []}))
    wide = percentiles.note(pd.DataFrame({"requests": [1500, 4000]}))
    assert "1,500 to 4,000" in wide and "at least 15 requests" in wide and "thin" not in wide
    few = percentiles.note(pd.DataFrame({"requests": [150, 4000, 800]}))
    assert "2 of 3 windows held fewer than 1,000" in few and "slowest few" in few


def test_bad_input_is_refused_by_name():
    rows = pd.DataFrame({"requests": [10]})
    for q in (0, 100, -1, "99", True):
        with pytest.raises(ValueError, match="q must be"):
            percentiles.beyond(rows, q)
    with pytest.raises(ValueError, match="'requests' or 'latency_n'"):
        percentiles.samples(pd.DataFrame({"x": [1]}))
