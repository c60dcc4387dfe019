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


def test_an_interrupt_says_what_was_kept_and_what_still_runs_in_two_lines(monkeypatch):
    from scalelab.results import store

    monkeypatch.setattr(store, "_UNFINISHED", {})
    text = notebook.interrupt_message(Interrupted(3))
    assert text.startswith("Interrupted. 3 finished point(s) were kept")
    assert "No stack of this kernel is running." in text and len(text.splitlines()) == 2


def test_an_interrupt_names_the_file_its_points_are_saved_in(monkeypatch, tmp_path):
    from scalelab.results import store

    monkeypatch.setattr(store, "_UNFINISHED", {})
    monkeypatch.setenv("SCALELAB_RESULTS_DIR", str(tmp_path))
    writer = store.ResultWriter("tests", "interrupted", mode="quick")
    writer({"users": 1, "req_s": 10.0})
    writer({"users": 2, "req_s": 19.0})
    text = notebook.interrupt_message(Interrupted(2))
    assert "2 point(s) in " in text and "interrupted.csv" in text and "incomplete" in text
    writer.finish()  # a measurement that ran to its end is no longer named
    assert "interrupted.csv" not in notebook.interrupt_message(Interrupted(2))


def test_a_busy_server_cpu_is_named_with_who_ran_there():
    import os
    import time

    from scalelab.measurement import cpu_sampler

    text = cpu_sampler.still_busy_message([1], 15, [("postgres", 4242, 0.8)])
    assert text.startswith("CPUs [1] stayed busy for 15 s") and "postgres (pid 4242, 80%" in text
    assert "rerun the cell" in text
    assert "no one process stood out" in cpu_sampler.still_busy_message([1], 15, [])
    import subprocess
    import sys

    spinner = subprocess.Popen([sys.executable, "-c",
                                "import time\nend = time.time() + 5\nwhile time.time() < end: pass"])
    try:
        time.sleep(0.3)
        # among the ten busiest: the suite's unmeasured tests and site build run beside this
        busiest = cpu_sampler.busiest_on(os.sched_getaffinity(0), seconds=0.5, top=10)
    finally:
        spinner.kill()
        spinner.wait()
    assert spinner.pid in [pid for _, pid, _ in busiest], busiest
    msg = notebook.interrupt_message(cpu_sampler.StillBusy(text))
    assert msg.startswith("CPUs [1] stayed busy") and "Interrupted" not in msg


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


def test_a_result_saved_whole_again_is_no_longer_named_as_kept(monkeypatch, tmp_path):
    from scalelab.results import store

    monkeypatch.setattr(store, "_UNFINISHED", {})
    monkeypatch.setenv("SCALELAB_RESULTS_DIR", str(tmp_path))
    store.ResultWriter("tests", "sweep", mode="quick")({"users": 1})  # interrupted
    again = store.ResultWriter("tests", "sweep", mode="quick")  # the cell rerun, to its end
    again({"users": 1})
    again.finish()
    assert store.unfinished() == []


def test_the_answer_line_names_each_claim_and_its_verdict_as_decided():
    from scalelab.verdicts.rule import Decision

    made = lambda claim, verdict, mode: Decision(claim, "nb", verdict, "r", "n", "p", mode)  # noqa: E731
    line = notebook.answer_line([made("C1", "holds", "full"),
                                 made("C13", "cannot be tested here", "full")])
    assert line.startswith("**Answer on this machine:** C1 **holds**; C13 **cannot be tested here**.")
    quick = notebook.answer_line([made("C5", "does not hold", "quick")])
    assert "C5 **does not hold (preliminary: quick mode)**" in quick


def test_a_figure_quoted_in_prose_is_the_verdicts_number():
    """02's 'the whole view' saving, quoted through ``figure``, is the verdict's home-page
    saving, written as the verdict table writes it; a mean of each variant's cost would
    say another number (a ratio of means, not the median of per-repeat ratios)."""
    import pandas as pd

    from scalelab.experiments import caching as cx
    from scalelab.verdicts.rules import RULES

    rows = pd.DataFrame({
        "variant": ["no cache", "view"] * 3, "repeat": [0, 0, 1, 1, 2, 2],
        "cpu_ms_per_req_server": [10.0, 1.0, 30.0, 1.0, 12.0, 1.0], "limit": "server"})
    quoted = notebook.figure("02-caching", "C2", "view saving", rows)
    assert quoted == 12.0 and cx.savings(rows)["view"] == quoted
    c2 = next(r for r in RULES["02-caching"] if r.claim == "C2")
    decided = c2.decide(rows, "02-caching", "full")
    assert notebook.figure_text(quoted) in decided.number  # "12×"
    means = rows.groupby("variant").cpu_ms_per_req_server.mean()
    assert means["no cache"] / means["view"] != quoted  # 17.3: the number said two ways
    with pytest.raises(ValueError, match="no figure"):
        notebook.figure("02-caching", "C2", "whole view", rows)


def test_a_reference_copy_is_stale_once_a_cell_of_its_source_changes(tmp_path, monkeypatch):
    import nbformat

    from scalelab.publishing import execution

    monkeypatch.setenv("SCALELAB_REFERENCE_DIR", str(tmp_path))
    name = "01-baseline"
    assert execution.stale_reference(name).startswith("no executed copy")
    nb = nbformat.read(execution.resolve(name), as_version=4)
    (tmp_path / name).mkdir()
    copy = tmp_path / name / f"{name}.ipynb"
    injected = nbformat.v4.new_code_cell('MODE = "full"', metadata={"tags": ["injected-parameters"]})
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, injected)
    nbformat.write(nb, copy)
    assert execution.stale_reference(name) == "", "papermill's parameters are no change"
    nb.cells[0].source += " (as it was)"
    nbformat.write(nb, copy)
    assert execution.stale_reference(name).startswith("cell 0 differs")
    nb.cells[0].source = nb.cells[0].source.replace(" (as it was)", "")
    nb.cells.pop()
    nbformat.write(nb, copy)
    assert "cells, the copy" in execution.stale_reference(name)


def test_bullets_make_one_markdown_list_item_per_sentence():
    from scalelab.publishing.notebook import bullets

    assert bullets("One.", "Two: 3×.") == "- One.\n- Two: 3×."
    assert bullets("Alone.") == "- Alone."
