"""The band a figure measured once is given comes from the reference runs' own windows, and it
is wide enough that one repeat says the reference's word or "inconclusive", never another."""

import json

import pandas as pd
import pytest

from scalelab.plumbing import paths
from scalelab.verdicts import band

from reference_rows import INPUTS, reference_rows, rule_of


def write_reference(tmp_path, spreads):
    """A reference folder with one result per notebook: a point per spread, measured in three
    repeats at 10 × (1 - s), 10 and 10 × (1 + s) ms, all server-bound, one not."""
    for i, s in enumerate(spreads):
        folder = tmp_path / f"0{i % 9}-nb"
        folder.mkdir(exist_ok=True)
        rows = [dict(variant=f"v{i}", repeat=r, cpu_ms_per_req_server=10 * (1 + k * s),
                     limit="server") for r, k in enumerate((-1, 0, 1))]
        rows.append(dict(variant="flagged", repeat=0, cpu_ms_per_req_server=99,
                         limit="generator"))
        rows.append(dict(variant="flagged", repeat=1, cpu_ms_per_req_server=1,
                         limit="generator"))
        pd.DataFrame(rows).to_csv(folder / f"r{i}.csv", index=False)
    return tmp_path


def test_the_band_is_root_two_times_the_90th_percentile_of_window_deviations(tmp_path):
    ref = write_reference(tmp_path, [0.1] * 10 + [0.5] * 2)  # 36 windows: 24 at 0, 8 at 0.1
    found = band.measure(ref)
    assert found["points"] == 12 and found["windows"] == 36  # flagged points left out
    dev = pd.Series([0.0] * 12 + [0.1] * 20 + [0.5] * 4).quantile(0.9)
    assert found["band"] == pytest.approx(round(2 ** 0.5 * dev, 3))


def test_too_few_repeated_points_keep_the_assumed_band(tmp_path):
    ref = write_reference(tmp_path, [0.3] * 3)
    assert band.record(ref)["band"] is None
    assert band.one_run_band(ref) == band.ASSUMED
    assert band.one_run_band(tmp_path / "nowhere") == band.ASSUMED


def test_a_recorded_band_is_read_back_and_a_new_record_replaces_it(tmp_path):
    ref = write_reference(tmp_path, [0.2] * 12)
    first = band.record(ref)["band"]
    assert band.one_run_band(ref) == first > band.ASSUMED
    (ref / band.FILE).write_text(json.dumps({"band": 0.31, "points": 40}))
    assert band.one_run_band(ref) == 0.31
    assert "window-to-window" in band.describe(0.31) and "assumed" in band.describe(band.ASSUMED)


def test_the_recorded_band_is_the_one_the_reference_runs_give():
    recorded = json.loads((paths.reference_dir() / band.FILE).read_text())
    assert recorded == band.measure(), "make reference records it; run it again"


@pytest.mark.parametrize("notebook, claim", sorted(INPUTS))
def test_one_repeat_says_the_reference_word_or_inconclusive(notebook, claim):
    """Each repeat of the reference run, taken alone as a quick run would measure it."""
    rule, rows = rule_of(notebook, claim), reference_rows(notebook, claim)
    word = rule.decide(rows, notebook, "full").verdict
    for repeat in sorted(rows.repeat.dropna().unique()):
        alone = rule.decide(rows[rows.repeat == repeat], notebook, "quick")
        assert alone.verdict in (word, "inconclusive"), (repeat, alone.verdict, alone.number)


def test_a_band_too_narrow_would_be_caught(monkeypatch):
    """The check above can fail: with no band at all, one repeat of C14 (inconclusive in the
    reference, 1.75× to 2.4× against 2×) says a word of its own."""
    monkeypatch.setattr(band, "one_run_band", lambda reference=None: 0.0)
    monkeypatch.setattr("scalelab.verdicts.rule.one_run_band", lambda reference=None: 0.0)
    rule, rows = rule_of("08-where-the-time-goes", "C14"), \
        reference_rows("08-where-the-time-goes", "C14")
    words = {rule.decide(rows[rows.repeat == r], "08-where-the-time-goes", "quick").verdict
             for r in rows.repeat.unique()}
    assert words - {"inconclusive"}
