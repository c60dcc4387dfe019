"""06's scale model, without servers: the turn of reads and votes at a stated share of writes,
and the read gains computed from its rows."""

import pandas as pd
import pytest

from scalelab.experiments import db_replicas as dbr

READS = tuple(f"http://127.0.0.1:9/r{i}/" for i in range(6))
WRITES = tuple(f"http://127.0.0.1:9/v{i}/" for i in range(8))


@pytest.mark.parametrize("share, length", [(0.0, 6), (0.05, 120), (0.20, 15), (0.5, 12)])
def test_a_turn_has_exactly_the_share_of_writes_asked_spread_among_whole_cycles(share, length):
    urls, methods = dbr.turn(READS, WRITES, share)
    assert len(urls) == len(methods) == length
    assert methods.count("POST") == round(share * length)
    assert all((m == "POST") == (u in WRITES) for u, m in zip(urls, methods))
    read_urls = [u for u in urls if u in READS]
    assert read_urls == list(READS) * (len(read_urls) // len(READS)), "whole cycles of reads"
    if share:  # evenly: the reads before each vote differ by one at most, none first
        posts = [i for i, m in enumerate(methods) if m == "POST"]
        gaps = [b - a - 1 for a, b in zip([-1] + posts, posts)]
        assert posts[0] > 0 and max(gaps) - min(gaps) <= 1, gaps


@pytest.mark.parametrize("bad", [-0.1, 0.6, 1.0, True, "5%"])
def test_a_turn_refuses_a_share_that_is_not_one(bad):
    with pytest.raises(ValueError, match="write share"):
        dbr.turn(READS, WRITES, bad)


def test_read_gains_are_per_share_and_repeat_against_no_replica():
    rows = pd.DataFrame([
        {"write_share": s, "repeat": r, "replicas": n, "reads_s": base * (1 + n), "limit": "server"}
        for s, base in ((0.05, 10.0), (0.2, 8.0)) for r in (0, 1) for n in (0, 1, 3)])
    gains = dbr.read_gains(rows)
    assert list(gains[gains.replicas == 3].gain) == [4.0] * 4
    assert list(gains[gains.replicas == 0].gain) == [1.0] * 4
    without_base = dbr.read_gains(rows[rows.replicas > 0])
    assert without_base.gain.isna().all()


def test_scale_reads_refuses_bad_counts_before_starting_anything():
    for bad in ([], [4], [1.5], [True]):
        with pytest.raises(ValueError, match="replica count|counts"):
            dbr.scale_reads(counts=bad)


def _lag(rates, p90_ms, behind):
    return pd.DataFrame({"writes_s": rates, "behind": behind, "lag_kb_p50": 0.0,
                         "lag_kb_p90": [1.0] * len(rates), "lag_kb_max": 2.0,
                         "lag_ms_p50": [p / 2 for p in p90_ms], "lag_ms_p90": p90_ms,
                         "lag_ms_max": 9.0, "samples": 40},
                        index=pd.Index([1, 4, 16][:len(rates)], name="connections"))


def test_the_lag_sentence_says_grew_only_when_the_heaviest_writes_lag_more():
    grew = dbr.lag_sentence(_lag([900, 2500, 4000], [0.8, 1.5, 2.4], [0.1, 0.3, 0.5]))
    assert "lag grew with the write rate" in grew and "never zero" in grew
    assert "From 900 to 4,000 votes/s" in grew or "From 900 to 4000 votes/s" in grew, grew
    flat = dbr.lag_sentence(_lag([900, 2500, 4000], [0.8, 0.9, 1.0], [0.1, 0.1, 0.1]))
    assert "did not grow" in flat and "never zero" in flat
    # the rows' order is not the rates' order: the lightest rate is the baseline
    shuffled = dbr.lag_sentence(_lag([4000, 900], [0.8, 2.4], [0.1, 0.5]))
    assert "did not grow" in shuffled
    none = dbr.lag_sentence(_lag([900, 4000], [0.0, 0.0], [0.0, 0.0]))
    assert "did not grow" in none and "never zero" not in none
    # rates that barely moved relate nothing, however the lag moved
    close = dbr.lag_sentence(_lag([1337, 1488, 1438], [0.5, 3.1, 12.8], [0.1, 0.5, 0.7]))
    assert "too close" in close and "grew" not in close


def _read_rows(primary_ms, replica_ms):
    return pd.DataFrame([
        {"kind": "reads", "limit": "server", "config": dbr.WITHOUT,
         "cpu_ms_per_req_db": primary_ms, "cpu_ms_per_req_replica": 0.0},
        {"kind": "reads", "limit": "server", "config": dbr.WITH, "cpu_ms_per_req_db": 0.1,
         "cpu_ms_per_req_replica": replica_ms}])


@pytest.mark.parametrize("replica_ms, said", [(2.0, "**4 replicas** are"), (2.6, "**6 replicas** are"),
                                              (5.0, "Even 8 replicas give only 3.2 times")])
def test_the_replicas_solution_counts_what_four_times_the_reads_take(replica_ms, said):
    text = dbr.replicas_for_solution(_read_rows(2.0, replica_ms))
    assert said in text and "primary alone 2.00 CPU-ms" in text
    assert dbr.replicas_for_solution(_read_rows(0.0, 2.0)).startswith("This run has no")


@pytest.mark.parametrize("verdict, gain, said", [
    ("holds with conditions (preliminary: quick mode)", 2.9, "about one primary's worth"),
    ("holds with conditions", 2.4, "most of a primary's worth"),
    ("does not hold", 1.6, "less than three quarters of a primary's worth"),
    ("inconclusive", 2.2, "too close to three quarters of linear (2.25×)"),
    ("cannot be tested here", float("nan"), "measured no read gain on this machine")])
def test_the_scale_takeaway_follows_the_measured_gain_and_the_verdict(verdict, gain, said):
    text = dbr.scale_takeaway(verdict, gain)
    assert said in text, text
    if gain == gain:
        assert f"**{gain:.1f}×**" in text or f"**{gain:.2f}×**" in text, text
    assert ("measured, not only projected" in text) == (gain >= 2.25 and "inconclusive" not in verdict)


def _ryw(as_is, held, fixed, trials=12):
    return pd.DataFrame([
        {"added_delay_ms": 0, "way": "without the fix", "trials": trials, "missed": as_is},
        {"added_delay_ms": 0, "way": "with the fix", "trials": trials, "missed": 0},
        {"added_delay_ms": 100, "way": "without the fix", "trials": trials, "missed": held},
        {"added_delay_ms": 100, "way": "with the fix", "trials": trials, "missed": fixed}])


def test_the_lag_takeaway_says_never_zero_only_when_a_sample_saw_the_replica_behind():
    seen = _lag([900, 4000], [0.8, 2.4], [0.1, 0.5])
    unseen = _lag([900, 4000], [0.0, 0.0], [0.0, 0.0])
    text = dbr.lag_takeaway(seen, _ryw(1, 10, 0))
    assert "never zero" in text and "2.4 ms" in text
    assert "1 of 12 reads-after-write did as it is, 10 with the replica 100 ms behind" in text
    assert text.endswith("left none missed.")
    assert dbr.lag_takeaway(seen, _ryw(0, 10, 2)).endswith("left 2 missed.")
    quiet = dbr.lag_takeaway(unseen, _ryw(0, 0, 0))
    assert "too small to see" in quiet and "never zero" not in quiet
    assert "missed none of 12" in quiet and "can miss" not in quiet


@pytest.mark.parametrize("failed, said", [(0, "cost no request here"),
                                          (3, "cost 3 requests, about one per app process (2)"),
                                          (9, "cost 9 requests over 1.5 s, more than one per")])
def test_the_failure_takeaway_counts_the_failed_requests_against_the_app_processes(failed, said):
    f = {"failed": failed, "fallback_s": 1.5, "reads_ok_while_down": 40}
    text = dbr.failure_takeaway(f, processes=2)
    assert said in text and "(40 of them)" in text, text
