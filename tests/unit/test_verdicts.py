"""The rule engine: criteria, clauses, inconclusive on a straddling spread, valid points only."""

import math

import pandas as pd
import pytest

from scalelab.measurement import limits
from scalelab.verdicts.band import one_run_band
from scalelab.verdicts.rule import (Clause, Criterion, Estimate, Figure, Rule, ratio_by_repeat, verdict_table)


def est(*values):
    return Estimate(values, [f"p{i}" for i in range(len(values))])


@pytest.mark.parametrize("op, threshold, values, state", [
    (">=", 2, (2.5, 3.0), "pass"),
    (">=", 2, (1.0, 1.5), "fail"),
    (">=", 2, (1.8, 2.4), "straddle"),
    ("<=", 1.1, (0.9, 1.0), "pass"),
    ("<=", 1.1, (1.2, 1.5), "fail"),
    ("<=", 1.1, (1.0, 1.2), "straddle"),
    ("between", (0.8, 1.25), (0.9, 1.1), "pass"),
    ("between", (0.8, 1.25), (1.3, 1.4), "fail"),
    ("between", (0.8, 1.25), (0.5, 0.7), "fail"),
    ("between", (0.8, 1.25), (1.1, 1.3), "straddle"),
    (">=", 2, (), "no data"),
])
def test_criterion_states(op, threshold, values, state):
    assert Criterion("x", op, threshold).check(est(*values)) == state


def test_one_repeat_is_widened_so_a_value_near_the_threshold_is_not_decided():
    band = one_run_band()
    near, far = 2.0 * (1 + band / 2), 2.0 * (1 + 2 * band)
    assert Criterion("x", ">=", 2).check(est(near)) == "straddle"
    assert Criterion("x", ">=", 2).check(est(far)) == "pass"


def test_nan_values_are_dropped():
    assert est(math.nan, 3.0).values == (3.0,)
    assert Estimate([math.nan]).n == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(figure="x", op="<", threshold=1), "op must be"),
    (dict(figure="x", op="between", threshold=(2, 1)), "low < high"),
    (dict(figure="x", op=">=", threshold="2"), "must be a number"),
])
def test_bad_criteria_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Criterion(**kwargs)


def test_bad_clauses_and_rules_are_refused():
    c = Criterion("x", ">=", 1)
    with pytest.raises(ValueError, match="which conditions"):
        Clause("holds with conditions", [c])
    with pytest.raises(ValueError, match="verdict"):
        Clause("inconclusive", [c])
    with pytest.raises(ValueError, match="at least one criterion"):
        Clause("holds", [])
    with pytest.raises(ValueError, match="unknown figure"):
        Rule("C0", "q", [Figure("y", "d", lambda r: est())], [Clause("holds", [c])])
    with pytest.raises(ValueError, match="points must be"):
        Figure("x", "d", lambda r: est(), points="any")


def two_clause_rule():
    figs = [Figure("a", "first", lambda r: est()), Figure("b", "second", lambda r: est())]
    return Rule("C0", "a quote", figs,
                [Clause("holds", [Criterion("a", ">=", 2), Criterion("b", ">=", 2)]),
                 Clause("holds with conditions", [Criterion("b", ">=", 2)], conditions="b only")],
                decides="more repeats")


@pytest.mark.parametrize("a, b, verdict", [
    ((3, 3.5), (3, 3.5), "holds"),                        # first clause passes
    ((1, 1.1), (3, 3.5), "holds with conditions"),        # first fails, second passes
    ((1, 1.1), (1, 1.1), "does not hold"),                # every clause fails: otherwise
    ((1.9, 2.2), (3, 3.5), "inconclusive"),               # first clause straddles
    ((1, 1.1), (1.9, 2.1), "inconclusive"),               # second straddles after first failed
    ((), (3, 3.5), "inconclusive"),                       # no valid point for a figure
    ((1, 1.1), (), "inconclusive"),
])
def test_first_passing_clause_decides_and_undecided_is_inconclusive(a, b, verdict):
    outcome, note = two_clause_rule().outcome({"a": est(*a), "b": est(*b)})
    assert outcome == verdict
    if verdict == "inconclusive":
        assert "What would decide it: more repeats" in note
    if verdict == "holds with conditions":
        assert note == "b only"


def test_rule_text_comes_from_its_fields():
    text = two_clause_rule().text()
    assert "*holds* if a at least 2× and b at least 2×" in text
    assert "*holds with conditions* (b only) if b at least 2×" in text
    assert "otherwise *does not hold*" in text
    md = two_clause_rule().markdown()
    assert "a quote" in md and "server-bound points only" in md


def rows(*specs):
    return pd.DataFrame([dict(variant=v, repeat=r, users=8, cpu_ms_per_req_server=c, limit=lim)
                         for v, r, c, lim in specs])


def test_flagged_points_never_decide():
    fig = Figure("saving", "d", lambda r: ratio_by_repeat(r, "cpu_ms_per_req_server", "A", "B"))
    rule = Rule("C0", "q", [fig], [Clause("holds", [Criterion("saving", ">=", 5)])])
    df = rows(("A", 0, 10.0, "server"), ("B", 0, 1.0, "server"),
              ("A", 1, 10.0, "server"), ("B", 1, 1.0, "generator"),  # flagged: left out
              ("A", 2, 10.0, "server"), ("B", 2, 9.0, "unexplained"))
    d = rule.decide(df, "nb", "full")
    assert d.verdict == "holds"  # only repeat 0 counts (one value, widened by the band)
    assert "B r1" not in d.points and "B r2" not in d.points and "B r0" in d.points
    only_flagged = rows(("A", 0, 10.0, "unexplained"), ("B", 0, 1.0, "generator"))
    d = rule.decide(only_flagged, "nb", "quick")
    assert d.verdict == "inconclusive" and d.points == "no valid point"
    assert d.label == "inconclusive (preliminary: quick mode)"


def test_stated_load_points_keep_unexplained_but_not_generator_or_failures():
    df = rows(("A", 0, 1, "server"), ("A", 1, 1, "unexplained"), ("A", 2, 1, "generator"),
              ("A", 3, 1, "failures"))
    assert list(limits.usable(df, "stated load").repeat) == [0, 1]
    assert list(limits.usable(df, "server-bound").repeat) == [0]
    with pytest.raises(ValueError, match="points must be"):
        limits.usable(df, "all")
    with pytest.raises(ValueError, match="no 'limit' column"):
        limits.usable(df.drop(columns="limit"))


def test_ratio_by_repeat_pairs_variants_within_each_repeat():
    df = rows(("A", 0, 10.0, "server"), ("B", 0, 2.0, "server"),
              ("A", 1, 12.0, "server"), ("B", 1, 3.0, "server"), ("A", 2, 9.0, "server"))
    e = ratio_by_repeat(df, "cpu_ms_per_req_server", "A", "B")
    assert e.values == (5.0, 4.0)  # repeat 2 has no B: no value
    assert e.interval == (4.0, 5.0)


def test_verdict_table_shows_rule_number_and_points():
    figs = [Figure("a", "d", lambda r: est(3.0, 3.2))]
    rule = Rule("C0", "q", figs, [Clause("holds", [Criterion("a", ">=", 2)])])
    d = rule.decide(rows(("A", 0, 1.0, "server")), "nb", "full")
    table = verdict_table([d])
    assert table.loc["C0", "verdict"] == "holds"
    assert "3.1× (3× to 3.2×, 2 repeats)" in table.loc["C0", "deciding number"]
    assert "a at least 2×" in table.loc["C0", "rule"]
    assert table.loc["C0", "points used"].startswith("2 point(s)")


@pytest.mark.parametrize("util, gen, fail, busy, lim", [
    (0.95, 0.30, 0.0, 0.98, "server"),
    (0.86, 0.70, 0.0, 0.97, "server"),        # nginx: the kernel's network work fills the CPU
    (0.95, 0.85, 0.0, 0.98, "server"),       # both busy: the server had no capacity left
    (0.93, 0.82, 0.0, 0.97, "server"),       # nginx at 128 connections against wrk
    (0.50, 0.85, 0.0, 0.60, "generator"),
    (0.89, 0.80, 0.0, 0.94, "generator"),    # the server had a twentieth idle: not saturated
    (0.95, 0.30, 0.05, 0.98, "failures"),
    (0.85, 0.45, 0.0, 0.905, "unexplained"),  # Locust on a cached page: a tenth of the CPU idle
    (0.60, 0.10, 0.0, 0.99, "unexplained"),   # the CPU was busy, but not with the servers
    (0.96, 0.10, 0.0, math.nan, "server"),    # no CPU-set reading: the servers' share decides
    (0.93, 0.10, 0.0, math.nan, "unexplained"),
    (math.nan, math.nan, math.nan, math.nan, "unexplained"),
])
def test_what_limited_a_point(util, gen, fail, busy, lim):
    assert limits.limit(util, gen, fail, busy) == lim
    f = limits.flags({"server_cpu_util": util, "generator_load": gen, "fail_ratio": fail,
                        "server_cpus_busy": busy})
    assert f["limit"] == lim and f["unexplained_limit"] == (lim == "unexplained")
    assert f["server_bound"] == (lim == "server")
    assert f["generator_saturated"] == (gen >= 0.8)  # the method's flag, whatever the limit
    assert f["server_bound"] == (lim == "server")
