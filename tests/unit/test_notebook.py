"""Helpers used inside a notebook: settings per mode, prose numbers, the interrupt message."""

import pytest

from scalelab.publishing import notebook
from scalelab.load import Interrupted


def test_settings_need_the_same_knobs_in_both_modes():
    s = notebook.settings("quick", quick={"users": 2}, full={"users": 8})
    assert s.users == 2 and s.mode == "quick"
    with pytest.raises(ValueError, match="MODE must be one of 'quick', 'full', 'reference'"):
        notebook.settings("fast", quick={}, full={})
    with pytest.raises(ValueError, match="same knobs"):
        notebook.settings("full", quick={"users": 2}, full={"duration": 3})


def test_an_interrupt_says_what_was_kept_and_what_still_runs_in_two_lines():
    text = notebook.interrupt_message(Interrupted(3))
    assert text.startswith("Interrupted. 3 finished point(s) were kept")
    assert "No stack of this kernel is running." in text and len(text.splitlines()) == 2


@pytest.mark.parametrize("value, text", [(float("nan"), "n/a"), (0, "0"), (0.0004, "≈ 0"),
                                         (1234.5, "1,234"), (0.01234, "0.012")])
def test_fmt_rounds_to_significant_digits(value, text):
    assert notebook.fmt(value, 2 if value != 1234.5 else 3) == text


def test_the_suite_shortens_windows_and_repeats_and_nothing_else():
    from scalelab.publishing.notebook import suite_knobs

    quick = dict(users=[1, 2, 4], duration=4, window=3, warmup=2, repeats=2, ttl_duration=2,
                 home_repeats=2, crash_seconds=8, crash_at=2.5, probe_duration=1, gzip=True)
    assert suite_knobs(quick) == dict(users=[1, 2, 4], duration=2, window=1, warmup=0,
                                      repeats=1, ttl_duration=1, home_repeats=1,
                                      crash_seconds=8, crash_at=2.5, probe_duration=1, gzip=True)


def test_a_notebooks_own_suite_knobs_apply_last_and_only_to_knobs_it_has():
    from scalelab.publishing.notebook import suite_knobs

    quick = dict(sizes=[10_000, 100_000], duration=2, warmup=1)
    assert suite_knobs(quick, dict(sizes=[10_000])) == dict(sizes=[10_000], duration=1,
                                                              warmup=0)
    with pytest.raises(ValueError, match="knobs of quick mode"):
        suite_knobs(quick, dict(size=[10_000]))


def test_only_the_suite_gets_shortened_knobs(monkeypatch):
    from scalelab.publishing.notebook import SUITE, settings

    quick, full = dict(duration=4, repeats=2), dict(duration=10, repeats=3)
    assert vars(settings("quick", quick, full)) == dict(mode="quick", duration=4, repeats=2)
    monkeypatch.setenv(SUITE, "1")
    assert vars(settings("quick", quick, full)) == dict(mode="quick", duration=2, repeats=1)
    assert vars(settings("full", quick, full)) == dict(mode="full", duration=10, repeats=3)
