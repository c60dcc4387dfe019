"""Notebook 07's rules on hand-made rows (every branch, and what data would break each), and
the pure parts of its experiments: plans read, settings compared, bad parameters refused."""

import pandas as pd
import pytest

from scalelab.verdicts import rules
from scalelab.experiments import db_design as dd
from scalelab.servers.stack import Stack
from scalelab.servers.stack_config import StackConfig

pytestmark = pytest.mark.usefixtures("assumed_band")  # hand-made rows: the ±20% band

NB = "07-database-design"


def index_rows(costs, app=5.0, repeats=(0,), limit="server"):
    """costs: {questions: (cpu without the index, cpu with it)} for the home page."""
    rows = []
    for r in repeats:
        for q, (without, with_) in costs.items():
            for present, cpu in ((False, without), (True, with_)):
                rows.append(dict(config=f"{q} questions", variant="home", repeat=r, page="home",
                                 questions=q, index_present=present, cpu_ms_per_req_server=cpu,
                                 cpu_ms_per_req_app=app, limit=limit))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("costs, verdict", [
    ({10_000: (33, 30), 100_000: (200, 30)}, "holds with conditions"),   # 6.7×, growing
    ({10_000: (33, 30), 100_000: (45, 30)}, "does not hold"),           # 1.5×: not worth it
    ({10_000: (60, 30), 100_000: (66, 30)}, "does not hold"),           # 2.2× but not growing
    ({10_000: (33, 30), 100_000: (60, 30)}, "inconclusive"),            # 2× ± 20%: straddles
])
def test_c5(costs, verdict):
    assert rules.C5.decide(index_rows(costs), NB, "quick").verdict == verdict


def test_c5_needs_tables_five_times_apart():
    d = rules.C5.decide(index_rows({10_000: (33, 30), 20_000: (200, 30)}), NB, "quick")
    assert d.verdict == "inconclusive" and "growth with the table: no valid point" in d.note


def test_c5_and_c4_ignore_points_that_were_not_server_bound():
    d = rules.C5.decide(index_rows({10_000: (33, 30), 100_000: (200, 30)}, limit="unexplained"),
                        NB, "full")
    assert d.verdict == "inconclusive" and "no valid point" in d.note


@pytest.mark.parametrize("costs, app, verdict", [
    # bound on the indexed page 30 ÷ 3 = 10: the index wins at 300k (13×), not at 10k (1.1×)
    ({10_000: (33, 30), 300_000: (400, 30)}, 27, "holds with conditions"),
    # bound 30 ÷ 10 = 3: the index wins even at 10k (13×)
    ({10_000: (400, 30), 300_000: (4000, 30)}, 20, "holds"),
    # bound 10: a gain of 3.3× at the largest table loses to the framework
    ({10_000: (33, 30), 300_000: (100, 30)}, 27, "does not hold"),
    # bound 10 against a gain of 10 at the largest table: straddles
    ({10_000: (33, 30), 300_000: (300, 30)}, 27, "inconclusive"),
    # the database is 95% of the unindexed page (600 ms, app 29), but the framework is 97% of
    # the indexed one (bound 30): the index's 20× is less than a free framework would save
    ({300_000: (600, 30)}, 29, "does not hold"),
])
def test_c4(costs, app, verdict):
    assert rules.C4.decide(index_rows(costs, app=app), NB, "quick").verdict == verdict


def test_c4_bounds_the_framework_on_the_page_done_right():
    d = rules.C4.decide(index_rows({300_000: (600, 30)}, app=29), NB, "quick")
    assert "framework bound 30×" in d.number


def settings_rows(reads, writes, repeats=(0,), limit="server"):
    """reads, writes: (defaults req/s, tuned req/s)."""
    rows = []
    for r in repeats:
        for kind, (d, t) in (("reads", reads), ("writes", writes)):
            for config, x in (("defaults", d), ("tuned", t)):
                rows.append(dict(config=config, variant=f"{kind}, {config}", kind=kind, repeat=r,
                                 req_s=x, limit=limit))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("reads, writes, verdict", [
    ((50, 80), (300, 300), "holds"),            # reads 1.6×
    ((50, 50), (200, 400), "holds"),            # writes 2×
    ((50, 51), (300, 290), "does not hold"),    # no gain either way
    ((50, 62), (300, 300), "inconclusive"),     # 1.24× ± 20%
])
def test_c6(reads, writes, verdict):
    assert rules.C6.decide(settings_rows(reads, writes), NB, "quick").verdict == verdict


def test_c6_uses_disk_bound_points_but_not_failed_ones():
    ok = rules.C6.decide(settings_rows((50, 50), (100, 200), limit="unexplained"), NB, "quick")
    assert ok.verdict == "holds"
    bad = rules.C6.decide(settings_rows((50, 50), (100, 200), limit="failures"), NB, "quick")
    assert bad.verdict == "inconclusive"


def write_rows(lost_share, db_ms, plain_votes_s=1000.0, repeats=(0,), pgbench_limit="server"):
    """write_ways rows (wrk through the app) and primary_writes rows (pgbench, no app)."""
    rows = []
    for r in repeats:
        for target in ("one hot question", "64 questions"):
            for way, lost in (("read-modify-write", lost_share), ("F() expression", 0.0)):
                recorded = 1000
                rows.append(dict(config=f"{target}, 4 connections", variant=way, way=way,
                                 target=target, users=4, repeat=r, lost_share=lost,
                                 lost_updates=lost * recorded, cpu_ms_per_req_db=db_ms,
                                 generator="wrk", limit="server"))
        for kind, votes_s in (("one a transaction", plain_votes_s),
                              ("appended", 5 * plain_votes_s)):
            rows.append(dict(variant=kind, generator="pgbench", users=16, repeat=r,
                             target="stack", votes_s=2 * votes_s, votes_s_per_core=votes_s,
                             server_cpus=2, limit=pgbench_limit))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("lost, plain, verdict", [
    (0.4, 1000, "holds with conditions"),  # naive loses; the primary takes 1,000 votes/s
    (0.0, 1000, "does not hold"),          # concurrency lost nothing
    (0.4, 5000, "does not hold"),          # 5,000 plain votes/s on one core: thousands are easy
    (0.4, 2000, "inconclusive"),           # 2,000 votes/s ± 20%
])
def test_c12_writes(lost, plain, verdict):
    d = rules.C12_WRITES.decide(write_rows(lost, 1.0, plain), NB, "quick")
    assert d.verdict == verdict, d


def test_c12_decides_on_the_measured_primary_not_the_projection_through_the_app():
    """A projection of 10,000 votes/s from a cheap vote through the app decides nothing; the
    primary measured at 1,000 votes/s does, whether its CPU or its disk's flushes limited it
    (unexplained); a point the generator limited decides nothing."""
    assert rules.C12_WRITES.decide(write_rows(0.4, 0.1, 1000), NB, "quick").verdict \
        == "holds with conditions"
    assert rules.C12_WRITES.decide(write_rows(0.4, 1.0, 1000, pgbench_limit="unexplained"), NB,
                                   "quick").verdict == "holds with conditions"
    d = rules.C12_WRITES.decide(write_rows(0.4, 1.0, 1000, pgbench_limit="generator"), NB,
                                "quick")
    assert d.verdict == "inconclusive" and "no valid point" in d.note, d


def test_a_way_that_lost_votes_never_sets_the_write_ceiling():
    rows = write_rows(0.4, 1.0)
    rows.loc[rows.way == "read-modify-write", "cpu_ms_per_req_db"] = 0.01  # cheap but wrong
    est = rules.db_writes_per_core(rows[rows.target == "64 questions"].assign(
        lost_updates=[5, 0]))
    assert est.values == (1000.0,)


def test_plan_figures_are_read_from_explain_output():
    plan = ("Limit  (cost=1.0..2.0 rows=30 width=1) (actual time=0.1..0.2 rows=30 loops=1)\n"
            "  Buffers: shared hit=97 read=35\n"
            "  ->  Index Scan Backward using qa_question_score on qa_question\n"
            "Planning Time: 1.0 ms\nExecution Time: 0.879 ms")
    f = dd._plan_figures(plan)
    assert f == {"execution_ms": 0.879, "buffers_hit": 97, "buffers_read": 35,
                 "scan": "index scan"}
    assert dd._plan_figures("Seq Scan on qa_question\nExecution Time: 5 ms")["scan"] == \
        "sequential scan"


def test_tuned_settings_follow_memory_and_sizes_compare_in_bytes():
    t = dd.tuned_settings(16 * 2 ** 30)
    assert t["shared_buffers"] == "4096MB" and t["effective_cache_size"] == "8192MB"
    assert dd.tuned_settings(256 * 2 ** 30)["shared_buffers"] == "8192MB"  # capped
    assert dd._same_setting("4096MB", "4GB") and not dd._same_setting("4096MB", "128MB")
    assert dd._same_setting("off", "off") and not dd._same_setting("1.1", "4")
    table = dd.settings_table(dd.pg_configs(16 * 2 ** 30))
    assert table.loc["synchronous_commit", "tuned"] == "default"
    assert table.loc["synchronous_commit", "tuned + synchronous_commit=off"] == "off"


@pytest.mark.parametrize("call, message", [
    (lambda: dd.write_ways(None, ways=["optimistic"]), "ways must be among"),
    (lambda: dd.write_ways(None, targets=["all"]), "targets must be among"),
    (lambda: dd.write_ways(None, rollup_every_s=0), "rollup_every_s"),
    (lambda: dd.indexes(None, sizes=(10,)), "sizes"),
    (lambda: dd.indexes(None, pages=("answers",)), "pages must be among"),
    (lambda: dd.crash_loses(None, crash_at=5, seconds=2), "crash_at"),
    (lambda: dd.too_many_connections(None, max_connections=100), "must exceed"),
    (lambda: dd.connection_modes(None, modes={"x": {"workers": 3}}), "must set only"),
])
def test_bad_parameters_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_stack_settings_refused_by_name():
    with pytest.raises(ValueError, match="pooler must be one of"):
        StackConfig(pooler="odyssey")
    with pytest.raises(ValueError, match="choose one pool"):
        StackConfig(pooler="pgbouncer", db_pool=True, conn_max_age=0)
    with pytest.raises(ValueError, match="read_replica"):
        StackConfig(pooler="pgbouncer", read_replica=True)
    with pytest.raises(ValueError, match="unknown stack setting"):
        StackConfig().replace(conn_max_ag=0)
    with pytest.raises(ValueError, match="cannot change on a running stack"):
        Stack().reconfigure(cache="redis")
    # a stack not started takes the new settings as they are
    assert Stack().reconfigure(conn_max_age=0).config["conn_max_age"] == 0


@pytest.mark.parametrize("as_written, swapped, verdict", [
    (30, 10, "holds"),          # 3×: the layers were the cost
    (30, 25, "does not hold"),  # 1.2×
    (30, 15, "inconclusive"),   # 2× ± 20%
])
def test_c14(as_written, swapped, verdict):
    rows = pd.DataFrame([dict(variant=v, repeat=0, cpu_ms_per_req_server=c, limit="server")
                         for v, c in ((rules.AS_WRITTEN, as_written),
                                      (rules.BOTH_SWAPPED, swapped))])
    assert rules.C14.decide(rows, "08-where-the-time-goes", "quick").verdict == verdict


@pytest.mark.parametrize("db_large, said", [(12.0, "It grew with the table"),
                                             (3.0, "It shrank as the table grew"),
                                             (6.2, "It held within a tenth")])
def test_the_db_share_solution_says_how_the_share_moved_with_the_table(db_large, said):
    from scalelab.experiments import db_design as dd

    gains = pd.DataFrame({"questions": [100_000, 10_000], "page": ["home", "home"],
                          "db_ms_without": [db_large, 6.0], "cpu_ms_without": [20.0, 20.0]})
    text = dd.db_share_solution(gains)
    assert "30% at 10,000 questions" in text and said in text
    assert "one table size" in dd.db_share_solution(gains.iloc[1:])
    assert dd.db_share_solution(gains[gains.page == "tag"]).startswith("This run measured no")


def _crash(on_lost, off_lost):
    return pd.DataFrame([{"synchronous_commit": "on", "lost": on_lost},
                         {"synchronous_commit": "off", "lost": off_lost}])


@pytest.mark.parametrize("verdict, gain, said", [
    ("does not hold (preliminary: quick mode)", 1.04, "they held their own (the usual first tuning gave 1.04×)"),
    ("holds", 1.6, "gave **1.6×** on a table 3.2× the size of their buffers: worth changing"),
    ("inconclusive", 1.22, "gave 1.22× on a table 3.2× the size of their buffers, too close to 1.25×")])
def test_the_defaults_takeaway_follows_c6s_verdict(verdict, gain, said):
    text = dd.defaults_takeaway(verdict, gain, 3.2, _crash(0, 0))
    assert said in text, text
    assert "lost no acknowledged vote in this crash, but it can" in text


def test_the_defaults_takeaway_counts_what_synchronous_commit_off_lost():
    text = dd.defaults_takeaway("does not hold", 1.0, 0.5, _crash(0, 7))
    assert "lost 7 acknowledged votes in a crash (0 with `on`)" in text
    assert "a table that fitted in their buffers" in text
    assert "lost 1 acknowledged vote in" in dd.defaults_takeaway("holds", 2.0, 2.0, _crash(0, 1))


def test_the_primary_takeaway_names_the_server_that_filled_first_and_the_batching_gain():
    app_first = pd.Series({"cpu_ms_per_req_app": 3.0, "cpu_ms_per_req_db": 0.5})
    text = dd.primary_takeaway(app_first, 2000.0, 6000.0)
    assert "the app's core filled first" in text and "moved the primary's own line 3.0×" in text
    db_first = pd.Series({"cpu_ms_per_req_app": 0.4, "cpu_ms_per_req_db": 0.9})
    text = dd.primary_takeaway(db_first, 2000.0, 2040.0)
    assert "the database was the first to fill" in text
    assert "did not move the primary's own line here (1.0×)" in text, text
