"""00's first worked solution on hand-made repeats: each branch, and one repeat said as such."""

import pandas as pd

from scalelab.experiments.start_here import cv_solution


def _repeats(uncached, cached):
    df = pd.DataFrame({"uncached": uncached, "view cache": cached})
    return df.assign(ratio=df["uncached"] / df["view cache"])


def test_drift_shared_by_both_pages_leaves_the_ratio_stiller():
    text = cv_solution(_repeats([20.0, 26.0, 23.0], [2.0, 2.6, 2.3]))  # same drift, same ratio
    assert "Over 3 repeats" in text and "**0.0%** for their ratio" in text
    assert "perfectly still against" in text and "drift that moves both pages" in text
    text = cv_solution(_repeats([20.0, 26.0, 23.0], [2.0, 2.5, 2.3]))
    assert "times stiller than the costlier page's cost" in text


def test_noise_of_short_windows_can_move_the_ratio_more():
    text = cv_solution(_repeats([20.0, 22.0], [2.2, 2.0]))  # opposite noise
    assert "Here the ratio moved at least as much" in text


def test_one_repeat_has_no_spread_to_give():
    assert cv_solution(_repeats([20.0], [2.0])).startswith("This run measured one repeat")
