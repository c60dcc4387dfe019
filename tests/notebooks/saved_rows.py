"""What a notebook's quick run saved, checked after the run (``test_runs_in_quick_mode``):
behaviour its experiments must show on real servers, read from the rows the notebook saved,
so the suite does not run the same experiments a second time to check them. Each check gets
``load(result)``, the saved rows of one result of that notebook."""

from __future__ import annotations

import statistics
from typing import Callable

import pandas as pd
import pytest

Load = Callable[[str], pd.DataFrame]


def baseline(load: Load) -> None:
    """01: the open arrivals kept their schedule at every share of capacity; below it the
    worker served what was offered, past it less, with more requests in flight and a longer
    p99 than at the lowest share; each row says how many latencies its percentiles rest on."""
    opened = load("open-arrivals").sort_values("share")
    assert (opened.generator == "open").all() and opened.late_share.le(0.01).all(), opened
    assert opened.latency_n.gt(0).all() and opened.latency_n.le(opened.offered).all()
    low, high = opened.iloc[0], opened.iloc[-1]
    assert low.share < 1 < high.share
    assert low.req_s >= 0.8 * low.offered_rate and low["limit"] == "rate", low
    assert high.req_s < 0.97 * high.offered_rate and high["limit"] == "server", high
    assert high.in_flight_mean > 2 * low.in_flight_mean and high.p99_ms > 2 * low.p99_ms


def caching(load: Load) -> None:
    """02: on the same question pages, every read of the hit variant that finds its entry
    skips the queries, and every read of the miss variant misses and runs them; a compare
    carries each window's hit ratio and statement counts from the servers' own counters, and
    both stampede guards recompute the vote count (a query the rows count)."""
    hm = load("hit-and-miss").groupby("variant").mean(numeric_only=True)
    hits, misses = hm.loc["every read hits"], hm.loc["every read misses"]
    assert misses.redis_hit_ratio < 0.05 and hits.redis_hit_ratio > misses.redis_hit_ratio + 0.5
    assert hits.db_statements_per_req < misses.db_statements_per_req
    ttl = load("question-pages")
    ttl = ttl[ttl.variant.str.startswith("ttl ")]
    assert len(ttl) and ttl.redis_hit_ratio.between(0, 1, inclusive="right").all(), ttl
    assert ttl.db_statements.gt(0).all() and ttl.db_statements_per_req.gt(0).all()
    stampede = load("stampede")
    guarded = stampede[stampede.variant.isin(("get_or_set", "lock + stale"))]
    # counters are sampled once a second and interpolated to the window's ends, so a short
    # window with a 1 s TTL may count 0.9 of a recomputation: counted, not a whole number
    assert set(guarded.variant) == {"get_or_set", "lock + stale"}, set(stampede.variant)
    assert guarded.db_vote_count_queries.gt(0).all(), guarded
    # then both pages under open arrivals at one rate, half of what get_or_set served
    arrivals = load("stampede-open")
    assert set(arrivals.variant) == {"get_or_set", "lock + stale"}, set(arrivals.variant)
    assert (arrivals.generator == "open").all() and arrivals.offered_rate.nunique() == 1
    plain_closed = stampede[stampede.variant == "get_or_set"].req_s.median()
    assert arrivals.offered_rate.iloc[0] == pytest.approx(0.5 * plain_closed)
    assert arrivals.late_share.le(0.01).all() and arrivals.latency_n.gt(0).all(), arrivals
    assert arrivals.expensive_queries_per_s.notna().all(), arrivals


def worker_counts(load: Load) -> None:
    """03: each worker class's recipe (or its configuration with the most slots) got the
    IO-bound page at the same open rate, stated from the design, and kept its schedule."""
    from scalelab.experiments import workers
    from scalelab.plumbing.cpus import default_layout

    tl = load("tails")
    assert set(tl.worker_class) == {"sync", "gthread", "asgi"}, set(tl.worker_class)
    rate = workers.tail_rate(len(default_layout().server), int(tl.wait_ms.iloc[0]))
    assert tl.offered_rate.round(6).eq(round(rate, 6)).all(), tl.offered_rate
    assert (tl.generator == "open").all() and tl.late_share.le(0.01).all(), tl
    sync = tl[tl.worker_class == "sync"].iloc[0]
    assert sync.slot_utilisation == pytest.approx(rate * sync.wait_ms / 1000 / sync.slots)
    assert tl.p99_ms.ge(tl.wait_ms).all(), "no answer comes before the page's wait"


def static_offloading(load: Load) -> None:
    """04: who_serves, beside_assets, page_loads and backend_time on the three ways of
    serving; the rows carry what the rules and the notebook read."""
    from scalelab.experiments import static

    who = load("who-serves")
    assert set(who.config) == set(static.SERVERS) and len(who) == 3 * len(static.SERVERS)
    assert (who.failures == 0).all(), who[["config", "variant", "failures"]]
    assert set(who[who.variant == "page view"].urls) == {5}, "the page and its four assets"
    beside = load("beside-assets")
    assert len(beside) == 2 * len(static.SERVERS) and (beside.page_requests > 0).all()
    assert beside[beside.traffic == "assets"].asset_req_s.gt(0).all()
    loads = load("page-loads")
    assert (loads.failed == 0).all() and len(loads) == 4 * loads.link_mbit_s.nunique()
    fastest = loads.link_mbit_s.max()
    first = loads[(loads.link_mbit_s == fastest) & (loads.variant == "first visit, gzip")]
    assert first.page_load_ms.iloc[0] >= 4 * first.rtt_ms.iloc[0], \
        "two handshakes and two requests in turn"
    assert set(load("backend-time").variant) == {"page", "cached page"}


def database_design(load: Load) -> None:
    """07: concurrent read-modify-write loses updates on the hot question and the other ways
    lose none; every connection mode serves; PgBouncer keeps under PostgreSQL's limit; each
    configuration's settings were applied; pgbench's votes reached the primary, appended
    ones faster, and the roll-up added them."""
    from scalelab.experiments import db_design as dd
    from scalelab.plumbing import binaries

    writes = load("writes")
    hot = writes[(writes.target == "one hot question") & (writes.users > 1)]
    rmw = hot[hot.way == "read-modify-write"].iloc[0]
    assert rmw.lost_updates > 0 and rmw.votes_recorded > rmw.score_added, rmw
    safe = writes[writes.way != "read-modify-write"]
    assert (safe.lost_updates == 0).all() and (safe.votes_recorded > 0).all()
    assert (writes[writes.way == "append + roll-up"].rollups >= 1).all()
    modes = load("connection-modes").set_index("variant")
    assert set(modes.index) == set(dd.modes_available())
    assert (modes.fail_ratio == 0).all() and (modes.requests > 0).all()
    assert modes.loc["new connection per request"].cpu_ms_per_req_db \
        > modes.loc["persistent connections"].cpu_ms_per_req_db
    if binaries.available("pgbouncer"):
        assert modes.loc["PgBouncer (transaction mode)"].cpu_ms_per_req_pooler > 0
        many = load("too-many-connections").set_index("variant")
        # that direct connections fail is asserted in tests/integration/test_db_design.py
        assert many.loc["through PgBouncer"].failures == 0
        assert many.loc["through PgBouncer"].db_connections_peak <= 4
    settings = load("settings")
    assert settings.applied.all() and set(settings.kind) == {"reads", "writes"}
    assert (settings.questions == load("indexes").questions.max()).all(), \
        "the settings are compared on the largest table"
    primary = load("primary-writes").set_index("variant")
    plain, appended = primary.loc["one a transaction"], primary.loc["appended"]
    assert (primary.failures == 0).all() and (primary.generator == "pgbench").all()
    assert appended.votes_s > plain.votes_s > 0, "ten votes an insert beat one a commit"
    assert appended.rolled_up >= appended.requests * appended.votes_per_transaction, \
        "the roll-up added every appended vote of the measured run"


def app_replicas(load: Load) -> None:
    """05: the scale model ran its app servers in hosts: every point names its busiest host
    and each host's use of its quota; more app hosts served the cached page faster (the
    model scales where one machine cannot); the calibration predicted each hosted point.
    Where no host can be made, the notebook shows the reference rows and saves none."""
    from scalelab.plumbing import hosts

    if not hosts.support()[0]:
        return
    scale = load("scale-out")
    assert set(scale.app_hosts) >= {1, 4} and scale.busiest_host.notna().all()
    assert {"host_app_util", "host_db_util", "host_proxy_util", "host_redis_util"} <= set(scale)
    cached = scale[scale.variant == "cached page"].set_index("app_hosts").req_s
    assert cached[4] > 2 * cached[1], cached
    _calibration(load("calibration"))


def _calibration(cal) -> None:
    """05's calibration, hosts of q cores beside no host (the suite runs 0.5, full mode 0.25
    and 0.5): each host used its quota, as the kernel's count of its control group says, and
    served in proportion to it (two hosts, to each other), less than a whole core; each was
    predicted."""
    from scalelab.experiments import replicas as rx

    rows, half = cal[cal.generator != "open"], cal[cal.generator == "open"]
    hosted = rows.dropna(subset=["host_cores"]).set_index("host_cores")
    assert len(hosted) >= 1, hosted
    assert hosted.busiest_host_util.between(0.85, 1.1).all(), hosted.busiest_host_util
    assert hosted.predicted_req_s.gt(0).all() and hosted.calibration.gt(0).all()
    assert (hosted["limit"] == "server").all(), hosted["limit"]
    whole = rows[rows.host_cores.isna()].req_s.iloc[0]
    assert (hosted.req_s < whole).all(), "a host of under a core served less than the core"
    # 1 if capacity follows the quota; 1/q if the quota did not hold. Wide below: a request
    # costs 1.2 to 1.7 times the CPU in a throttled host (docs/method.md), and it moves by a
    # fifth from window to window here
    share = hosted.req_s / whole / hosted.index
    assert share.between(0.4, 1.5).all(), share
    if {0.25, 0.5} <= set(hosted.index):  # 2 if capacity follows the quota (runs saw 2.96, 3.21)
        assert 1.4 <= hosted.req_s[0.5] / hosted.req_s[0.25] <= 4.0, hosted.req_s
    # then an open load at half what each served: a host about half busy (less: a request
    # costs less CPU below saturation), its latency measured
    assert list(half.config) == list(rows.config)
    assert (half.offered_rate / rows.req_s.to_numpy()).round(6).eq(rx.HALF_LOAD).all()
    assert half.dropna(subset=["host_cores"]).busiest_host_util.between(0.2, 0.85).all(), half
    lat = rx.half_load_latency(cal)
    assert len(lat) == len(rows) and lat.p99_ms.gt(0).all() and lat.p99_over_mean.ge(1).all()


def database_replicas(load: Load) -> None:
    """06: the replica's lag is seen, at the write rates asked; with the replica stopped
    under load, reads fall back to the primary: they are served in every whole second the
    replica is down, failures end before it restarts, reads go back to it once it is up,
    and every vote answered is counted."""
    import math

    fails = load("replica-fails")
    row = fails.iloc[0]
    down = fails[(fails.second >= math.ceil(row.failed_at_s))
                 & (fails.second + 1 <= row.restarted_at_s)]
    assert len(down) >= 1 and (down.reads_ok > 0).all(), down
    if fails.reads_failed.sum() + fails.writes_failed.sum():
        assert row.failed_at_s <= row.last_failure_s < row.restarted_at_s, row
    assert row.reads_back_at_s >= row.ready_at_s, row
    assert row.votes_answered == row.votes_counted > 0, row
    # the lag sampler sees lag (one that opened a connection per sample read 0 bytes in all
    # 399 samples of a reference run), and pgbench kept each rate asked
    lag = load("lag")
    assert lag.lag_bytes.gt(0).any(), lag.groupby("variant").lag_bytes.max()
    asked = lag.dropna(subset=["asked_rate"])
    assert (asked.writes_s / asked.asked_rate).between(0.8, 1.2).all(), asked.writes_s.unique()
    from scalelab.plumbing import hosts

    if not hosts.support()[0]:
        return
    # the scale model: the primary alone, then with three replicas each in its own host,
    # which then took reads (their hosts worked) and served more of them than the primary
    scale = load("scale-reads")
    assert set(scale.replicas) == {0, 3} and scale.busiest_host.notna().all()
    three = scale[scale.replicas == 3]
    for key in ("replica", "replica-2", "replica-3"):
        assert three[f"host_{key}_util"].gt(0.1).all(), three
    assert three.reads_s.mean() > 1.5 * scale[scale.replicas == 0].reads_s.mean(), scale


PAST_CAPACITY_SERVED = 0.7  # past capacity, served ÷ saturated is at least this


def served_past_capacity(first: float, again: Callable[[], list[float]]) -> float:
    """What decides that past capacity the server still served about its saturated rate: the
    notebook's own ratio (served ÷ saturated) when it reaches ``PAST_CAPACITY_SERVED``, else
    the median of it and ``again()`` (two more check runs). A 2-s window that something else
    on the machine slowed does not repeat (CI saw one below 0.7; 20 check runs in a row here
    gave 0.81 to 1.14); a server that serves less once its queue grows does, every time."""
    if first >= PAST_CAPACITY_SERVED:
        return first
    return statistics.median([first, *again()])


def past_capacity_again(overload: float, repeats: int = 2) -> list[float]:
    """Served ÷ saturated past capacity from ``repeats`` more check runs (the suite's 2-s
    windows, no warm-up) on a stack of its own, started and stopped here."""
    from scalelab.experiments import capacity as cap
    from scalelab.plumbing.cpus import default_layout

    layout = default_layout()
    stack = cap.start_stack(questions=2_000, layout=layout, label="test-09-again")
    try:
        check = cap.check_run(stack, cap.reference_costs(), overload=overload, duration=2,
                              warmup=0, repeats=repeats, layout=layout)
    finally:
        stack.stop()
    pred = cap.predictions(check, server_cpus=len(layout.server))
    return list(cap.past_capacity(pred, check)["served ÷ saturated"])


def capacity_planning(load: Load) -> None:
    """09: the check run saturated the page, then sent C16's load, the model's rate for 70%
    busy and one and a half times the saturated rate; its predictions come from those rows,
    past capacity the served rate is the saturated one, and C16 is decided on its own point.
    The plan ran on the model deployment: the planned app hosts each used part of its quota,
    as did the database's and nginx's; every prediction is beside its measurement, and all
    hosts' CPU per page was counted. Where no host can be made, no deployment is saved."""
    import math

    from scalelab.experiments import capacity as cap
    from scalelab.plumbing import hosts
    from scalelab.plumbing.cpus import default_layout
    from scalelab.verdicts import rules

    check = load("check-run")
    assert list(check.variant) == ["saturated (wrk, closed)", cap.C16_VARIANT,
                                   "70% by the model (open)", cap.PAST_CAPACITY], \
        list(check.variant)
    pred = cap.predictions(check, server_cpus=len(default_layout().server))
    assert len(pred) == 3 and pred["U predicted (model)"].iloc[1] == pytest.approx(0.7)
    # past capacity (the overload times the saturated rate: 2 in the suite), the schedule kept
    # and the server the limit; what was served is about what the saturated point served, not
    # what was offered. Served ÷ offered is 1 (within a window's Poisson noise, 7% here) if the
    # open load counted what it sent, and 1 ÷ the overload if it counts what was answered;
    # against the saturated point the two are the overload and 1, too close to split when
    # wrk's closed point comes out low (a run saw 1.25 at an overload of 1.5)
    beyond = check[check.variant == cap.PAST_CAPACITY].iloc[0]
    assert beyond["limit"] == "server" and beyond["late_share"] < 0.01, beyond
    past = cap.past_capacity(pred, check)
    assert past["offered ÷ saturated"].iloc[0] == pytest.approx(beyond["overload"], rel=0.25)
    served = served_past_capacity(past["served ÷ saturated"].iloc[0],
                                  lambda: past_capacity_again(beyond["overload"]))
    assert served >= PAST_CAPACITY_SERVED, (served, past)
    served_share = past["served req/s"].iloc[0] / past["offered req/s"].iloc[0]
    assert served_share <= 0.9, (served_share, past)
    assert past["R p99 (ms)"].iloc[0] > pred["R p99 (ms)"].iloc[1], "the queue shows"
    assert pred["U predicted (model)"].iloc[0] == pytest.approx(
        cap.c16_rate() * check.model_cpu_ms.iloc[0] / 1000 / len(default_layout().server))
    assert pred["U measured"].gt(0).all() and not pred["R measured (ms)"].isna().any()
    assert math.isfinite(pred["R M/M/1 (ms)"].iloc[0])
    assert "twice 100k hits a day r0" in rules.C16.decide(check, "09-capacity-planning",
                                                          "quick").points
    if not hosts.support()[0]:
        return
    dep = load("deployment")
    plan = cap.deployment_plan(cap.reference_costs())
    assert (dep.app_hosts == plan["app_hosts"]).all() and (dep.config == cap.DEPLOYED).all()
    apps = ["host_app_util"] + [f"host_app-{i}_util" for i in range(2, plan["app_hosts"] + 1)]
    assert dep[apps + ["host_db_util", "host_proxy_util"]].gt(0).all().all(), dep
    assert dep.app_hosts_util.between(0.1, 1.1).all() and dep.cpu_ms_per_req_hosts.gt(0).all()
    assert dep.predicted_app_util.le(plan["utilisation"]).all()
    assert (dep.offered_rate.round(6) == round(plan["rate"], 6)).all() and dep.p99_ms.gt(0).all()
    assert (dep["limit"] != "generator").all(), dep[["limit", "late_share"]]


CHECKS: dict[str, Callable[[Load], None]] = {
    "01-baseline": baseline,
    "02-caching": caching,
    "03-worker-counts": worker_counts,
    "04-static-offloading": static_offloading,
    "05-app-replicas": app_replicas,
    "06-database-replicas": database_replicas,
    "07-database-design": database_design,
    "09-capacity-planning": capacity_planning,
}
