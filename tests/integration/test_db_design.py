"""Notebook 07's variants on real servers: the index dropped and put back (even after a kill),
the N+1 page's queries, lost updates detected, each connection mode, PgBouncer queueing what
PostgreSQL refuses, PostgreSQL's settings applied and restored, a crash recovered. What the
notebook's own run shows (four writers losing updates, each mode's cost) is checked on its
saved rows, in tests/notebooks/saved_rows.py."""

import urllib.request

import pytest

from scalelab import Stack
from scalelab.plumbing import binaries
from scalelab.experiments import db_design as dd

pytestmark = pytest.mark.servers

Q = 2_000
QUICK = dict(connections=4, duration=1, warmup=0)


@pytest.fixture(scope="module")
def dstack():
    with Stack(questions=Q, workers=2, label="test-db-design") as s:
        yield s


def test_the_index_is_dropped_for_the_block_and_put_back(dstack):
    assert dd.has_index(dstack)
    with dd.index_state(dstack, present=False) as dropped:
        assert dropped and not dd.has_index(dstack)
        plans = dd.explain(dstack, dd.page_sql(dstack, ["home"]))
        assert plans["home"]["scan"] == "sequential scan"
    assert dd.has_index(dstack)
    assert dd.explain(dstack, dd.page_sql(dstack, ["home"]))["home"]["scan"] == "index scan"


def test_an_index_dropped_by_a_killed_run_is_put_back_at_the_next_start(dstack):
    dropped = dstack.dataset.drop_index(dstack.db, *dd.INDEXED)  # and then nobody restores it
    assert dropped and not dd.has_index(dstack)
    dstack.reconfigure(pg_settings={"work_mem": "8MB"})  # restarts PostgreSQL: data checked
    try:
        assert dd.has_index(dstack)
    finally:
        dstack.reconfigure(pg_settings={})


def test_the_naive_page_runs_a_query_per_question_and_shows_the_same_questions(dstack):
    naive = dd.queries_per_request(dstack.app_url + "/d/home/naive/")
    bulk = dd.queries_per_request(dstack.app_url + "/")
    assert bulk <= 4 and naive >= 2 * 30, (naive, bulk)

    def titles(path):
        with urllib.request.urlopen(dstack.app_url + path, timeout=10) as resp:
            html = resp.read().decode()
        return [part.split("</a>")[0] for part in html.split('<h3><a href="')[1:]]
    assert titles("/d/home/naive/") == titles("/") and len(titles("/")) == 30


def test_one_writer_loses_no_update_and_the_roll_up_leaves_nothing_pending(dstack):
    # four writers losing updates on the hot question: notebook 07's saved rows
    # (tests/notebooks/saved_rows.py)
    rows = dd.write_ways(dstack, targets=["one hot question"], connections=(1,), duration=1)
    assert (rows.lost_updates == 0).all(), rows[["way", "lost_updates"]]
    assert (rows.votes_recorded > 0).all()
    assert rows[rows.way == "append + roll-up"].rollups.iloc[0] >= 1
    assert dd.roll_up(dstack) == 0, "nothing left pending"


def test_a_connection_mode_serves_and_the_stack_is_put_back(dstack):
    """The mode that changes the stack most (PgBouncer, where installed: a server more); that
    every mode serves, and what each costs, 07's run in the suite shows (``saved_rows``)."""
    before = dstack.config
    name, mode = list(dd.modes_available().items())[-1]
    rows = dd.connection_modes(dstack, modes={name: mode}, **QUICK).set_index("variant")
    assert list(rows.index) == [name]
    assert (rows.fail_ratio == 0).all() and (rows.requests > 0).all()
    assert dstack.config == before and "pooler" not in dstack.services


@pytest.mark.skipif(not binaries.available("pgbouncer"), reason="PgBouncer is not installed")
def test_more_threads_than_connections_fail_directly_and_queue_through_pgbouncer(dstack):
    # a second of warm-up: a cold app's first second may reach the database from too few
    # threads to pass its limit
    rows = dd.too_many_connections(dstack, duration=1, warmup=1).set_index("variant")
    assert rows.loc["direct"].failures > 0
    assert rows.loc["through PgBouncer"].failures == 0
    assert rows.loc["through PgBouncer"].db_connections_peak <= 4
    assert dd.show_settings(dstack, ["max_connections"])["max_connections"] == "100"


def test_settings_are_applied_on_the_table_asked_for_then_restored(dstack):
    configs = {"small": {"work_mem": "8MB", "random_page_cost": "1.5"}}  # 07 compares more
    rows = dd.settings_compared(dstack, configs=configs, questions=1_000, **QUICK)
    assert rows.applied.all() and set(rows.kind) == {"reads", "writes"}
    assert (rows.questions == 1_000).all() and (rows.db_size_mb > 0).all()
    assert (rows.default_shared_buffers_mb == 128).all()
    assert dd.show_settings(dstack, ["work_mem", "random_page_cost"]) == \
        {"work_mem": "4MB", "random_page_cost": "4"}
    assert dstack.config["questions"] == Q, "the stack's own data set is back"


def test_a_crash_with_synchronous_commit_on_loses_no_answered_vote(dstack):
    rows = dd.crash_loses(dstack, synchronous_commit=["on"], seconds=1.5, crash_at=0.7)
    r = rows.iloc[0]
    assert r.lost == 0 and r.votes_answered > 0 and r.votes_counted >= r.votes_answered
    assert dstack.db.query("SELECT 1")[0][0] == 1, "the database came back"
    assert dd.queries_per_request(dstack.app_url + "/") >= 1, "and the app reaches it"
