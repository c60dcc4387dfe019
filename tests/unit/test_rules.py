"""Every branch of every notebook's rule, decided on hand-made rows.

Each test asks what data would break the rule: a rule that no row can make fail is a defect.
"""

import pandas as pd
import pytest

from scalelab.verdicts import rules
from scalelab.verdicts.rule import UNTESTABLE

pytestmark = pytest.mark.usefixtures("assumed_band")  # hand-made rows: the ±20% band


def sweep_rows(points, limit="server"):
    """points: (repeat, users, cpu_ms_per_req_server, req_s)."""
    return pd.DataFrame([dict(variant="", repeat=r, users=u, cpu_ms_per_req_server=c, req_s=x,
                              limit=limit) for r, u, c, x in points])


def saturated(costs, throughputs, repeats=(0,)):
    """Server-bound points at 4, 8, 16 and 32 users with the given costs and req/s."""
    return sweep_rows([(r, u, c, x) for r in repeats
                       for u, c, x in zip((4, 8, 16, 32), costs, throughputs)])


@pytest.mark.parametrize("costs, throughputs", [
    ((30, 29, 31, 30), (33, 34, 33, 34)),  # flat: fast, not scaling
    ((30, 30, 45, 50), (33, 33, 33, 33)),  # slower under load: contention
    ((30, 30, 30, 30), (30, 60, 120, 240)),  # throughput grew with users (not on one core)
])
def test_c13_cannot_be_tested_on_one_core_and_shows_its_figures(costs, throughputs):
    d = rules.C13.decide(saturated(costs, throughputs), "01-baseline", "quick")
    assert d.verdict == UNTESTABLE and "scale model" in d.note and "what would test it" in d.note
    assert "cost under load" in d.number and "throughput elasticity" in d.number


def test_c13_shows_only_server_bound_points():
    df = pd.concat([saturated((30, 30, 45, 45), (33, 33, 33, 33), repeats=(0, 1)),
                    sweep_rows([(0, 1, 60, 10), (1, 2, 60, 20)], limit="unexplained")])
    d = rules.C13.decide(df, "01-baseline", "full")
    assert "1 users" not in d.points and "cost under load 1.5" in d.number, d.number


def ttl_rows(uncached, cached, hit_ratio, repeats=(0, 1), limit="server"):
    out = []
    for r in repeats:
        out.append(dict(variant="uncached", repeat=r, cpu_ms_per_req_server=uncached,
                        redis_hit_ratio=float("nan"), limit=limit))
        out.append(dict(variant=rules.CACHED, repeat=r, cpu_ms_per_req_server=cached,
                        redis_hit_ratio=hit_ratio, limit=limit))
    return pd.DataFrame(out)


@pytest.mark.parametrize("uncached, cached, home_view, verdict", [
    (10, 3, 1.0, "holds"),                    # question pages 3.3×: most of the cost is gone
    (10, 8, 1.0, "holds with conditions"),    # 1.25× on question pages, 10× on the home page
    (10, 8, 8.0, "does not hold"),            # 1.25× on both
    (10, 5, 1.0, "inconclusive"),             # question pages 2× exactly: straddles
    (10, 8, 5.0, "inconclusive"),             # home page 2× exactly: straddles
])
def test_c1(uncached, cached, home_view, verdict):
    df = pd.concat([ttl_rows(uncached, cached, 0.8, repeats=(0,)),
                    home_rows({"no cache": 10.0, "view": home_view}, repeats=(0,))])
    d = rules.C1.decide(df, "02-caching", "quick")
    assert d.verdict == verdict
    assert "hit ratio 80%" in d.number


def test_c3_cannot_be_tested_here_and_shows_where_the_capacity_came_from():
    # gain 3.3x with 20% misses: two thirds of Amdahl's bound; no data could break the bound
    d = rules.C3.decide(ttl_rows(10, 3.0, 0.8, repeats=(0,)), "02-caching", "quick")
    assert d.verdict == UNTESTABLE and "what would test it" in d.note
    assert "capacity gain 3.33×" in d.number and "miss share 20%" in d.number


def home_rows(costs, repeats=(0, 1), limits=None):
    limits = limits or {}
    return pd.DataFrame([dict(variant=v, repeat=r, cpu_ms_per_req_server=c,
                              limit=limits.get(v, "server"))
                         for r in repeats for v, c in costs.items()])


@pytest.mark.parametrize("question_cached, view, verdict, condition", [
    (0.5, 2.0, "holds with conditions", "on one machine"),  # 20× on the question pages
    (8.0, 0.5, "holds with conditions", "one hot page"),    # 1.25× on them, 20× on the home page
    (8.0, 2.0, "does not hold", ""),                        # 5× at best
    (8.0, 1.0, "inconclusive", ""),                         # 10× ± 20% on the home page
])
def test_c2(question_cached, view, verdict, condition):
    df = pd.concat([ttl_rows(10, question_cached, 0.8, repeats=(0,)),
                    home_rows({"no cache": 10.0, "view": view}, repeats=(0,))])
    d = rules.C2.decide(df, "02-caching", "quick")
    assert d.verdict == verdict and condition in d.note, d


@pytest.mark.parametrize("nginx, verdict", [
    (0.1, "holds"),           # 10×
    (0.9, "does not hold"),   # 1.1×
    (0.5, "inconclusive"),    # 2× ± 10%
])
def test_c18(nginx, verdict):
    df = home_rows({"view": 1.0, "nginx microcache": nginx}, repeats=(0,))
    assert rules.C18.decide(df, "02-caching", "quick").verdict == verdict


def test_c18_is_inconclusive_when_the_proxy_points_are_not_server_bound():
    for limit in ("generator", "unexplained"):
        df = home_rows({"view": 1.0, "nginx microcache": 0.05},
                       limits={"nginx microcache": limit})
        d = rules.C18.decide(df, "02-caching", "full")
        assert d.verdict == "inconclusive" and "no valid point" in d.note


def worker_rows(cpu, io, io_limit="unexplained", repeats=(0,)):
    """cpu, io: req/s of (sync ×1, sync ×4) on each endpoint."""
    out = []
    for r in repeats:
        for kind, (one, most), lim in (("cpu-bound", cpu, "server"), ("io-bound", io, io_limit)):
            for n, x in ((1, one), (4, most)):
                out.append(dict(config=f"sync ×{n}", worker_class="sync", workers=n,
                                variant=kind, repeat=r, req_s=x, limit=lim))
    return pd.DataFrame(out)


@pytest.mark.parametrize("cpu, io, verdict", [
    ((100, 300), (20, 80), "holds"),                   # both gain
    ((100, 95), (20, 80), "holds with conditions"),    # only the waiting page gains
    ((100, 95), (20, 22), "does not hold"),            # neither
    ((100, 200), (20, 80), "inconclusive"),            # CPU-bound gain 2× ± 10%
    ((100, 95), (20, 40), "inconclusive"),             # IO-bound gain 2× ± 10%
])
def test_c19(cpu, io, verdict):
    assert rules.C19.decide(worker_rows(cpu, io), "03-worker-counts", "quick").verdict == verdict


def test_c19_io_points_at_a_stated_load_count_but_generator_bound_ones_do_not():
    assert rules.C19.decide(worker_rows((100, 95), (20, 80), io_limit="generator"),
                            "03-worker-counts", "quick").verdict == "inconclusive"


def test_every_rule_states_a_quote_and_what_would_decide_or_test_it():
    for nb, rs in rules.RULES.items():
        for rule in rs:
            assert rule.quote and (rule.decides or rule.untestable), (nb, rule.claim)
            assert rule.claim in rule.markdown()


# --- 04 static offloading ---------------------------------------------------------------
def static_rows(page, cached, asset, nginx_asset=0.03, repeats=(0, 1), urls=4, limit="server"):
    """who_serves rows: per repeat and server, the assets (``urls`` of them) and two page
    views (page + assets), as server CPU per view; nginx's assets cost ``nginx_asset``."""
    out = []
    for r in repeats:
        for server, a in ((rules.WHITENOISE, asset), (rules.NGINX, nginx_asset)):
            out += [dict(config=server, variant="assets", repeat=r, cpu_ms_per_view=urls * a,
                         limit=limit),
                    dict(config=server, variant="page view", repeat=r,
                         cpu_ms_per_view=page + urls * a, limit=limit),
                    dict(config=server, variant="cached page view", repeat=r,
                         cpu_ms_per_view=cached + urls * a, limit=limit)]
    return pd.DataFrame(out)


@pytest.mark.parametrize("page, cached, asset, verdict", [
    (4.0, 1.0, 1.2, "holds"),                   # assets 55% of a cheap page's view
    (30.0, 1.7, 1.3, "holds with conditions"),  # 15% of an uncached view, 75% of a cached one
    (30.0, 20.0, 1.3, "does not hold"),         # even the "cached" page dwarfs its assets
    (30.0, 1.7, 0.05, "does not hold"),         # WhiteNoise as cheap as nginx: no gain
    (30.0, 6.0, 0.9, "inconclusive"),           # replaced below: repeats straddle a third
])
def test_c8(page, cached, asset, verdict):
    df = static_rows(page, cached, asset)
    if verdict == "inconclusive":  # the two repeats straddle a third: 30% and 40%
        df = pd.concat([static_rows(page, 8.4, asset, repeats=(0,)),
                        static_rows(page, 5.4, asset, repeats=(1,))])
    d = rules.C8.decide(df, "04-static-offloading", "full")
    assert d.verdict == verdict, d


def test_c8_is_decided_against_whitenoise_not_djangos_development_view():
    dev = static_rows(30.0, 1.7, 1.3)
    dev.loc[dev.config == rules.WHITENOISE, "config"] = rules.DJANGO_VIEW
    d = rules.C8.decide(dev, "04-static-offloading", "full")
    assert d.verdict == "inconclusive" and "cached page-view gain over Django's view 3.79×" \
        in d.number


def test_c8_decides_on_server_bound_points_and_needs_both_stacks():
    only_whitenoise = static_rows(4.0, 1.0, 1.2)
    only_whitenoise = only_whitenoise[only_whitenoise.config == rules.WHITENOISE]
    d = rules.C8.decide(only_whitenoise, "04-static-offloading", "full")
    assert d.verdict == "inconclusive" and "cached page-view gain: no valid point" in d.note
    flagged = static_rows(4.0, 1.0, 1.2, limit="generator")
    assert rules.C8.decide(flagged, "04-static-offloading", "full").verdict == "inconclusive"


def wire_rows(plain, gzip, page_ms, cached_ms, links=(10, 100), repeats=(0, 1), failed=0):
    """page_loads and backend_time rows: first-visit load times (ms) per link, plain and gzip,
    and the uncached and cached page's backend medians."""
    out = []
    for r in repeats:
        for link in links:
            for variant, ms in (("first visit, plain", plain[link]),
                                ("first visit, gzip", gzip[link]),
                                ("revalidate visit, gzip", 60), ("fresh visit, gzip", 40)):
                out.append(dict(config=f"{link} Mbit/s", variant=variant, link_mbit_s=link,
                                repeat=r, page_load_ms=ms, failed=failed,
                                limit="failures" if failed else "one user"))
        out += [dict(variant="page", repeat=r, median_ms=page_ms, limit="one user"),
                dict(variant="cached page", repeat=r, median_ms=cached_ms, limit="one user")]
    return pd.DataFrame(out)


def test_c7_cannot_be_tested_here_and_shows_the_emulated_ratio():
    # 60 ms saved on the wire at 10 Mbit/s against 27 ms in the backend: 2.22x, arithmetic
    d = rules.C7.decide(wire_rows({10: 190, 100: 55}, {10: 130, 100: 51}, 30, 3, repeats=(0,)),
                        "04-static-offloading", "quick")
    assert d.verdict == UNTESTABLE and "emulator" in d.note and "what would test it" in d.note
    assert "wire ÷ backend at 10 Mbit/s 2.22×" in d.number


# --- 05 app replicas --------------------------------------------------------------------
def replica_rows(app, db, proxy, cache=0.05, cached_app=1.0, repeats=(0, 1), req_s=(40, 40),
                 limit="server"):
    """measure() rows: 1 × 2 workers and 2 × 1 worker, the uncached and the cached page."""
    out = []
    for r in repeats:
        for n, x in zip((1, 2), req_s):
            out += [dict(config=f"{n} × {2 // n} workers", replicas=n, workers=2 // n,
                         balance="round_robin", variant="page", repeat=r, req_s=x,
                         cpu_ms_per_req_app=app, cpu_ms_per_req_db=db,
                         cpu_ms_per_req_proxy=proxy, cpu_ms_per_req_cache=0.0, limit=limit),
                    dict(config=f"{n} × {2 // n} workers", replicas=n, workers=2 // n,
                         balance="round_robin", variant="cached page", repeat=r, req_s=x * 10,
                         cpu_ms_per_req_app=cached_app, cpu_ms_per_req_db=0.0,
                         cpu_ms_per_req_proxy=proxy, cpu_ms_per_req_cache=cache, limit=limit)]
    return pd.DataFrame(out)


def scale_rows(gains, cached_gains=None, repeats=(0, 1, 2), one=3.0, limit="server"):
    """scale_out() rows: app hosts 1, 2, 4, 8; ``gains`` (and ``cached_gains``) per count,
    the same in every repeat unless given per repeat as a list of dicts."""
    out = []
    for r in repeats:
        for variant, g, base in (("page", gains, one), ("cached page", cached_gains or gains,
                                                        one * 8)):
            g = g[r] if isinstance(g, list) else g
            for n, gain in g.items():
                out.append(dict(variant=variant, app_hosts=n, repeat=r, req_s=base * gain,
                                host_db_util=0.1 * n, host_redis_util=0.05 * n, limit=limit,
                                config=f"{n} app hosts", busiest_host="app"))
    return pd.DataFrame(out)


LINEAR = {1: 1.0, 2: 2.0, 4: 3.9, 8: 7.6}


@pytest.mark.parametrize("gains, verdict", [
    (LINEAR, "holds"),
    ({1: 1.0, 2: 1.9, 4: 2.0, 8: 2.0}, "does not hold"),  # the database caps it at 2 hosts
    ([LINEAR, {1: 1, 2: 2, 4: 2.6, 8: 5}, LINEAR], "inconclusive"),  # a repeat across 3x
])
def test_c9_is_decided_on_the_scale_models_measured_gain(gains, verdict):
    d = rules.C9.decide(pd.concat([replica_rows(20, 2, 0.1), scale_rows(gains)]),
                        "05-app-replicas", "full")
    assert d.verdict == verdict, (d.verdict, d.number)
    assert "projected gain at 4" in d.number and "same-machine gain" in d.number


def test_c9_on_a_projection_alone_is_never_a_holds():
    """The projection says 4x (nothing shared caps it), but nothing was measured in hosts."""
    d = rules.C9.decide(replica_rows(20, 0.1, 0.1), "05-app-replicas", "full")
    assert d.verdict == "inconclusive" and "projected gain at 4 4×" in d.number
    d = rules.C9.decide(pd.concat([replica_rows(20, 0.1, 0.1),
                                   scale_rows(LINEAR, limit="unexplained")]),
                        "05-app-replicas", "full")
    assert d.verdict == "inconclusive", "points no host limited decide nothing"


@pytest.mark.parametrize("cached, verdict", [
    (LINEAR, "holds with conditions"),
    ({1: 1, 2: 2, 4: 3.8, 8: 4.0}, "does not hold"),  # the balancer's host caps it
])
def test_the_balancer_half_of_c2_is_decided_on_eight_app_hosts(cached, verdict):
    d = rules.C2_BALANCER.decide(pd.concat([replica_rows(20, 2, 0.2, cache=0.02),
                                            scale_rows(LINEAR, cached)]),
                                 "05-app-replicas", "full")
    assert d.verdict == verdict and "projected gain at 10, cached" in d.number


def session_rows(per_process, shared, repeats=(0,)):
    out = []
    for r in repeats:
        out.append(dict(kind="logins", engine="per-process memory", variant="per-process memory",
                        repeat=r, lost_share=per_process, limit="one user"))
        for engine, share in zip(("database", "cache (Redis)", "signed cookies"), shared):
            out.append(dict(kind="logins", engine=engine, variant=engine, repeat=r,
                            lost_share=share, limit="one user"))
        out.append(dict(kind="cost", engine="database", variant="database", repeat=r,
                        lost_share=float("nan"), limit="server"))
    return pd.DataFrame(out)


@pytest.mark.parametrize("per_process, shared, verdict", [
    # shared: the database (Django's default), Redis, signed cookies
    (0.5, (0, 0, 0), "does not hold"),     # only the store Django does not ship loses them
    (0.5, (0.2, 0, 0), "holds"),           # the default store loses a fifth: tricky indeed
    (0.0, (0, 0.2, 0), "does not hold"),   # another store's loss is shown, not decided on
    (0.5, (0.045, 0, 0), "inconclusive"),  # 4.5% ± 20% straddles 5%
])
def test_c10(per_process, shared, verdict):
    d = rules.C10.decide(session_rows(per_process, shared), "05-app-replicas", "quick")
    assert d.verdict == verdict, d


def test_the_projection_is_the_utilisation_law_with_shared_servers():
    from scalelab.experiments.replicas import project

    p = project({"app": 10.0, "db": 4.0, "proxy": 0.5}, (1, 2, 4))
    # one app machine: 100 req/s; the database caps at 250, nginx at 2,000
    assert list(p.req_s) == [100.0, 200.0, 250.0]
    assert list(p.limited_by) == ["app machines", "app machines", "the db server"]
    assert list(p.gain) == [1.0, 2.0, 2.5]
    with pytest.raises(ValueError, match="app"):
        project({"db": 1.0})


# --- 06 database replicas ---------------------------------------------------------------
def db_rows(read_db, read_primary, read_replica, write_db, write_primary, repeats=(0, 1),
            limit="server"):
    out = []
    for r in repeats:
        out += [dict(config=rules.WITHOUT, kind="reads", variant="reads", repeat=r,
                     cpu_ms_per_req_db=read_db, cpu_ms_per_req_replica=0.0, limit=limit),
                dict(config=rules.WITH, kind="reads", variant="reads", repeat=r,
                     cpu_ms_per_req_db=read_primary, cpu_ms_per_req_replica=read_replica,
                     limit=limit),
                dict(config=rules.WITHOUT, kind="writes", variant="writes", repeat=r,
                     cpu_ms_per_req_db=write_db, cpu_ms_per_req_replica=0.0, limit=limit),
                dict(config=rules.WITH, kind="writes", variant="writes", repeat=r,
                     cpu_ms_per_req_db=write_primary, cpu_ms_per_req_replica=0.2,
                     limit=limit)]
    return pd.DataFrame(out)


def read_scale_rows(gains, shares=(0.05, 0.2), base=8.0, limit="server", primary=0.4):
    """The scale model's rows: per repeat, reads/s with 0 replicas and with 3 (``gains``:
    one gain per repeat)."""
    out = []
    for r, gain in enumerate(gains):
        for share in shares:
            for n, reads in ((0, base), (3, base * gain)):
                out.append(dict(config=f"{n} replicas", variant=f"{share:.0%} writes",
                                replicas=n, write_share=share, repeat=r, reads_s=reads,
                                req_s=reads / (1 - share), host_db_util=primary if n else 0.95,
                                limit=limit))
    return pd.DataFrame(out)


@pytest.mark.parametrize("gains, verdict", [
    ((3.2, 3.0, 3.4), "holds with conditions"),  # replicas added most of a primary each
    ((1.1, 1.2, 1.0), "does not hold"),         # reads stayed on a primary that capped them
    ((1.9, 2.0, 1.8), "does not hold"),         # below three quarters of linear
    ((2.0, 2.5, 2.3), "inconclusive"),          # the spread straddles 2.25
])
def test_c11_is_decided_on_measured_read_gain(gains, verdict):
    rows = pd.concat([db_rows(2.0, 0.1, 2.0, 1.0, 1.0), read_scale_rows(gains)])
    d = rules.C11.decide(rows, "06-database-replicas", "full")
    assert d.verdict == verdict, d


def test_c11_is_never_decided_on_the_projection_or_the_one_machine_stacks():
    """Reads that moved off the primary and a projection of 30x decide nothing: without the
    scale model's points the verdict is inconclusive."""
    d = rules.C11.decide(db_rows(2.0, 0.1, 0.2, 1.0, 1.0), "06-database-replicas", "full")
    assert d.verdict == "inconclusive", d


@pytest.mark.parametrize("write_primary", [1.0, 0.5])
def test_c12_replica_half_cannot_be_tested_here_whatever_the_writes(write_primary):
    """A replica taking none of the writes is how streaming replication works: even data in
    which half the write work went elsewhere would not make a verdict of it here."""
    d = rules.C12_REPLICA.decide(db_rows(2.0, 0.1, 2.0, 1.0, write_primary),
                                 "06-database-replicas", "full")
    assert d.verdict == "cannot be tested here" and "scale model" in d.note, d


def test_c11_needs_host_bound_points_with_and_without_replicas():
    d = rules.C11.decide(read_scale_rows((3.2, 3.0), limit="unexplained"),
                         "06-database-replicas", "full")
    assert d.verdict == "inconclusive"
    rows = read_scale_rows((3.2, 3.0))
    d = rules.C11.decide(rows[rows.replicas == 3], "06-database-replicas", "full")
    assert d.verdict == "inconclusive" and "no valid point" in d.note
