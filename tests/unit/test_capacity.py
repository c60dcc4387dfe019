"""Notebook 09's model against hand-computed cases, its rules on hand-made rows (every branch,
and what data would break each), the open load's schedule and window arithmetic, and bad
parameters refused with their names."""

import math

import numpy as np
import pandas as pd
import pytest

from scalelab.load import open_rate
from scalelab.verdicts import rules
from scalelab.verdicts.rule import UNTESTABLE
from scalelab.measurement import limits
from scalelab.experiments import capacity as cap

pytestmark = pytest.mark.usefixtures("assumed_band")  # hand-made rows: the ±20% band

NB = "09-capacity-planning"


# --- the model's arithmetic, by hand --------------------------------------------------------
def test_the_threads_users_at_once():
    # 100,000 users × 2 h ÷ 24 h = 8,333.3 on the site at once; the thread's 20,000 is 2.4×
    assert cap.average_concurrency(100_000, 2) == pytest.approx(8_333.333, rel=1e-6)
    assert cap.PEAK_FACTOR == pytest.approx(2.4)
    assert cap.implied_peak_factor() == pytest.approx(2.4)
    assert cap.peak_concurrency(100_000, 2) == pytest.approx(20_000)
    # all visits within a 10-hour day: 100,000 × 2 ÷ 10 = 20,000 on average
    assert cap.average_concurrency(100_000, 2, day_hours=10) == pytest.approx(20_000)


def test_traffic_to_requests():
    assert cap.page_views_per_s(20_000, 30) == pytest.approx(666.667, rel=1e-5)
    assert cap.page_views_per_s(100, 9, response_s=1) == pytest.approx(10)
    assert cap.requests_per_s(10, assets_per_view=4) == pytest.approx(50)
    # 100,000 a day: 1.157/s on average, 2.778/s at a 2.4× peak
    assert cap.per_day_to_peak_per_s(100_000, 1) == pytest.approx(1.1574, rel=1e-4)
    assert cap.per_day_to_peak_per_s(100_000) == pytest.approx(2.7778, rel=1e-4)
    # 8 billion a month of 30 days: 3,086.4/s on average, 7,407.4/s at the peak
    assert cap.per_month_to_peak_per_s(8e9, 1) == pytest.approx(3086.42, rel=1e-5)
    assert cap.per_month_to_peak_per_s(8e9) == pytest.approx(7407.41, rel=1e-5)


def test_load_to_cores():
    # 666.7 page views/s × 30 ms = 20 cores of work; at 70% busy, 28.57 cores; 8 to a server: 4
    assert cap.cores(666.667, 30) == pytest.approx(28.571, rel=1e-4)
    assert cap.cores(100, 10, utilisation=1) == pytest.approx(1)
    assert cap.servers(28.571, 8) == 4 and cap.servers(32, 8) == 4 and cap.servers(0, 8) == 0
    assert cap.rate_per_core(35) == pytest.approx(20)       # 0.7 × 1000 / 35
    assert cap.users_per_core(35, think_s=30) == pytest.approx(600)
    # 20,000 users need 30 one-core servers at 70% when 20,000 / Z × D / 0.7 = 30:
    # Z = 20,000 × 0.035 / 21 = 33.3 s
    assert cap.break_even_think_s(35) == pytest.approx(33.333, rel=1e-4)
    assert cap.break_even_think_s(35, cores_per_server=8) == pytest.approx(4.1667, rel=1e-4)
    assert cap.hit_mix(30, 2, 0.9) == pytest.approx(4.8)    # 0.9 × 2 + 0.1 × 30


@pytest.mark.parametrize("call, message", [
    (lambda: cap.average_concurrency(-1, 2), "daily_users must be a positive number"),
    (lambda: cap.average_concurrency(100, 25), "session_hours .* cannot exceed day_hours"),
    (lambda: cap.peak_concurrency(100, 2, 0.5), "peak_factor must be at least 1"),
    (lambda: cap.page_views_per_s(100, 0), "think_s must be a positive number"),
    (lambda: cap.cores(10, 5, utilisation=1.5), "utilisation must be a share from 0 to 1"),
    (lambda: cap.cores(10, 5, utilisation=0), "utilisation must be a positive number"),
    (lambda: cap.servers(10, 0), "cores_per_server"),
    (lambda: cap.hit_mix(30, 2, "most"), "hit_ratio must be a non-negative number"),
    (lambda: cap.page_views_per_s(True, 30), "users must be a non-negative number"),
])
def test_bad_inputs_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def costs(uncached=(32.0,), cached=(2.4,), limit="server"):
    rows = [dict(config=c, variant=c, repeat=r, cpu_ms_per_view=v, cpu_ms_per_req_server=v,
                 cpu_ms_per_req_app=v, cpu_ms_per_req_db=0.0, cpu_ms_per_req_proxy=0.0,
                 asset_cpu_ms=0.0, limit=limit)
            for c, values in (("uncached", uncached), ("per-view cache", cached),
                              ("nginx microcache", (0.2,) * len(cached)))
            for r, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_the_plan_is_the_arithmetic_per_scenario():
    p = cap.plan(costs((30.0,), (3.0,)), cores_per_server=8)
    row = p[(p.scenario.str.startswith("100,000 users")) & (p.config == "uncached")].iloc[0]
    assert row.peak_page_views_s == pytest.approx(20_000 / cap.THINK_S)
    assert row.cores == pytest.approx(20_000 / 30 * 0.030 / 0.7)
    assert row.servers_of_8_cores == 4
    mixed = cap.plan(costs((30.0,), (3.0,)), hit_ratio=0.5)
    assert mixed[mixed.config == "cache hitting 50%"].cpu_ms_per_view.iloc[0] == 16.5
    table = cap.plan_table(costs((30.0,), (3.0,)))
    assert list(table.columns[:2]) == ["page views/s at the peak", "uncached"]


def test_scenarios_count_page_views_and_requests():
    t = cap.scenarios(think_s=20)
    first = t.iloc[0]
    assert first.peak_page_views_s == pytest.approx(1000)  # 20,000 users, a page every 20 s
    assert first.peak_requests_s == pytest.approx(5000)    # and four assets each
    assert t.loc["Mahalo"].peak_page_views_s == pytest.approx(10e6 * 10 / cap.MONTH_S * 2.4)


def test_the_check_plot_takes_repeats_that_agree(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from scalelab import plots
    pred = pd.DataFrame([{"offered req/s": 5.0, "U predicted (model)": 0.3381358281204697,  # mean < min by an ulp
                          "U predicted (this run)": 0.1, "U measured": 0.12,
                          "R measured (ms)": 40.0, "R M/M/1 (ms)": 30.0, "R M/D/1 (ms)": 28.0,
                          "R M/M/1, measured U (ms)": 35.0, "repeat": r} for r in range(3)])
    plots.predicted_vs_measured(pred)


def test_the_reference_costs_name_their_machine_and_keep_server_bound_points():
    c = cap.reference_costs()
    assert set(c.config) == set(cap.CONFIGS) and (c.limit == "server").all()
    assert (c.cpu_ms_per_view > c.cpu_ms_per_req_server).all()  # the assets are added
    assert "cores" in cap.measured_on(c) and "commit" in cap.measured_on(c)


# --- the rules, every branch --------------------------------------------------------------
def test_c15_and_c17_cannot_be_tested_here_and_show_their_arithmetic():
    # break-even think time = 20,000 × D / (0.7 × 30 × 1000) s = D × 0.952 (D in ms)
    d = rules.C15.decide(costs((30.0, 32.0, 35.0), (2.4,) * 3), NB, "full")
    assert d.verdict == UNTESTABLE and "what would test it" in d.note
    assert "break-even think time 30.5 s" in d.number
    # Disqus: 7,407.4 page views/s at the peak; cores = 7,407.4 × D / 700 = D × 10.58 (D in ms)
    d = rules.C17.decide(costs((32.0, 35.0), (2.3, 2.4)), NB, "full")
    assert d.verdict == UNTESTABLE and "Disqus cores, cached 24.9 cores" in d.number
    d = rules.C15.decide(costs((30.0,), (2.4,), limit="unexplained"), NB, "full")
    assert "no valid point" in d.number


def check_rows(p99, busy, limit="rate", variant=rules.C16_LOAD):
    return pd.DataFrame([dict(variant=variant, repeat=r, p99_ms=p, server_cpus_busy=b,
                              limit=limit) for r, (p, b) in enumerate(zip(p99, busy))])


@pytest.mark.parametrize("p99, busy, verdict", [
    ((80, 90, 100), (0.2, 0.21, 0.22), "holds"),
    ((80, 90, 1500), (0.2, 0.21, 0.22), "inconclusive"),    # one slow window: straddles 1 s
    ((1500, 1800, 2000), (0.2, 0.2, 0.2), "does not hold"),  # a second and more at the 99th
    ((80, 90, 100), (0.8, 0.85, 0.9), "does not hold"),     # the core busier than a plan allows
])
def test_c16(p99, busy, verdict):
    assert rules.C16.decide(check_rows(p99, busy), NB, "full").verdict == verdict


def test_c16_ignores_a_late_generator_and_other_loads():
    late = rules.C16.decide(check_rows((80,), (0.2,), limit="generator"), NB, "quick")
    other = rules.C16.decide(check_rows((80,), (0.2,), variant="70% by the model (open)"),
                             NB, "quick")
    assert late.verdict == other.verdict == "inconclusive"
    # one quick window is widened by the lab's band (±20% or more): 900 ms straddles 1 s
    assert rules.C16.decide(check_rows((900,), (0.2,)), NB, "quick").verdict == "inconclusive"


# --- the plan on a model deployment -------------------------------------------------------
def plan_costs(app=15.0, db=2.0):
    c = costs((app,))
    c.loc[c.config == "uncached", "cpu_ms_per_req_db"] = db
    return c


def test_the_deployment_plan_is_the_utilisation_law_on_small_hosts():
    # 10 pages/s × 15 ms = 0.15 core of app; at 70% of 1/16 core: ceil(3.43) = 4 hosts
    p = cap.deployment_plan(plan_costs(), rate=10, host_cores=1 / 16, utilisation=0.7)
    assert p["app_hosts"] == 4
    assert p["app_util"] == pytest.approx(0.6)       # 0.15 ÷ (4 × 1/16)
    assert p["db_util"] == pytest.approx(0.08)       # 10 × 2 ms ÷ 1/4 core
    assert p["service_ms"] == pytest.approx(240)     # 15 ms ÷ 1/16 core
    assert p["mean_ms"] == pytest.approx(600)        # M/M/1: 240 ÷ (1 - 0.6)
    assert p["mean_md1_ms"] == pytest.approx(420)    # M/D/1: 240 × (1 + 0.6 ÷ 0.8)
    assert p["p99_ms"] == pytest.approx(600 * math.log(100))
    # one host carries 0.7 × 1/16 ÷ 15 ms = 2.92 pages/s at 70%: 2.9 fit in one, 3.0 need two
    assert cap.deployment_plan(plan_costs(), rate=2.9)["app_hosts"] == 1
    assert cap.deployment_plan(plan_costs(), rate=3.0)["app_hosts"] == 2
    # the default rate is C16's load
    assert cap.deployment_plan(plan_costs())["rate"] == pytest.approx(cap.c16_rate())


@pytest.mark.parametrize("kwargs, message", [
    (dict(rate=0), "rate must be a positive number"),
    (dict(host_cores=1), "host_cores must be a host size"),
    (dict(host_cores=True), "host_cores must be a host size"),
    (dict(utilisation=1.5), "utilisation must be a share"),
    (dict(rate=100), "the plan needs 35 app hosts .* at most 8"),
])
def test_the_deployment_plan_refuses_what_the_model_cannot_hold(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cap.deployment_plan(plan_costs(), **kwargs)
    with pytest.raises(ValueError, match="no uncached home page"):
        cap.deployment_plan(costs().iloc[:0])


def deployment_rows(app_use=(0.6, 0.62), most=(0.65, 0.66), cost=(20.0, 21.0), mean=(400, 420),
                    limit="rate"):
    rows = []
    for r, (u, m, c, ms) in enumerate(zip(app_use, most, cost, mean)):
        rows.append(dict(config=rules.DEPLOYED, variant=cap.DEPLOYED_LOAD, repeat=r, app_hosts=4,
                         offered_rate=10.0, req_s=10.0, planned_utilisation=0.7,
                         predicted_app_util=0.6, app_hosts_util=u, app_hosts_util_max=m,
                         predicted_db_util=0.08, host_db_util=0.1, predicted_proxy_util=0.0,
                         host_proxy_util=0.03, predicted_mean_ms=600.0,
                         predicted_mean_md1_ms=420.0, mean_ms=ms, predicted_p99_ms=2763.0,
                         p99_ms=900.0, requests=100, model_cpu_ms=17.0,
                         cpu_ms_per_req_hosts=c, cpu_ms_per_view=c + 1.0, late_share=0.0,
                         limit=limit))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("most, cost, mean, held, note, closer", [
    ((0.65, 0.66), (20.0, 21.0), (400, 420), True, "more", "M/D/1"),
    ((0.65, 0.83), (17.0, 17.5), (620, 640), False, "about the same", "M/M/1"),
    ((0.5, 0.55), (12.0, 13.0), (400, 420), True, "less", "M/D/1"),
])
def test_the_deployment_summary_says_whether_the_plan_held(most, cost, mean, held, note, closer):
    d = cap.deployment_summary(cap.deployment_check(deployment_rows(most=most, cost=cost,
                                                                    mean=mean)))
    assert d["held"] is held and d["cost_note"].startswith(note) and d["closer"] == closer
    assert d["repeats"] == 2 and d["requests"] == 100 and d["predicted"] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="no row"):
        cap.deployment_summary(cap.deployment_check(deployment_rows().iloc[:0]))


def test_the_deployment_plot_draws_predicted_against_measured():
    import matplotlib
    matplotlib.use("Agg")
    from scalelab import plots
    axes = plots.deployment_vs_plan(cap.deployment_check(deployment_rows()))
    assert axes[0].get_ylabel() == "CPU time ÷ the host's quota"


def test_c15_and_c17_project_from_the_model_deployment_and_stay_untestable():
    rows = pd.concat([costs((30.0,), (2.4,)), deployment_rows(cost=(20.0, 22.0))],
                     ignore_index=True)
    c15, c17 = rules.C15.decide(rows, NB, "full"), rules.C17.decide(rows, NB, "full")
    assert c15.verdict == c17.verdict == UNTESTABLE and "projection" in c15.note
    # per view: 21 and 23 ms; break-even = D × 0.952 s (20 and 21.9 s); Disqus cores = D × 10.58
    assert "break-even think time, model deployment (projected) 21 s (20 s to 21.9 s" in c15.number
    assert "Disqus cores, model deployment (projected) 233 cores" in c17.number
    # a deployment point the generator limited does not enter them
    late = pd.concat([costs((30.0,), (2.4,)), deployment_rows(limit="generator")],
                     ignore_index=True)
    assert "model deployment (projected) n/a (no valid point)" in rules.C15.decide(late, NB, "full").number


# --- the open load ------------------------------------------------------------------------
def test_a_poisson_schedule_has_the_rate_asked_and_is_seeded():
    t = open_rate.schedule(200, 50, seed=3)
    assert len(t) == pytest.approx(10_000, rel=0.05) and (np.diff(t) > 0).all()
    assert (open_rate.schedule(200, 50, seed=3) == t).all()
    gaps = np.diff(t)
    assert gaps.std() / gaps.mean() == pytest.approx(1, abs=0.05)  # exponential gaps


def test_a_window_counts_requests_by_their_intended_time():
    # one request a second at t = 0.5 .. 9.5, each answered in 0.2 s; one sent late and slow
    req = pd.DataFrame({"intended": np.arange(10) + 0.5, "sent": np.arange(10) + 0.5,
                        "done": np.arange(10) + 0.7, "status": ["200"] * 10})
    req.loc[5, ["sent", "done"]] = [5.6, 6.5]
    req.loc[7, "status"] = "error: ReadTimeout"
    s = open_rate.summarise(req, 2, 8)  # intended 2.5 .. 7.5: six requests
    assert s["offered"] == 6 and s["requests"] == 5 and s["failures"] == 1
    assert s["late_share"] == pytest.approx(1 / 6)  # 100 ms late > 20 ms
    assert s["max_ms"] == pytest.approx(1000)
    # in flight: five for 0.2 s, one for 1 s, within 6 s
    assert s["in_flight_mean"] == pytest.approx((5 * 0.2 + 1.0) / 6)


def test_past_capacity_a_window_counts_what_was_served_and_what_was_never_sent():
    # ten requests a second for 4 s, a server that answers two a second in turn: requests
    # pile up; the last four found no connection free and were never sent
    intended = np.arange(40) / 10
    done = 0.5 + np.arange(40) / 2
    req = pd.DataFrame({"intended": intended, "sent": intended, "done": done,
                        "status": ["200"] * 40})
    req.loc[36:, ["sent", "done"]] = np.nan
    req.loc[36:, "status"] = "unsent"
    s = open_rate.summarise(req, 1, 3)
    # served: answered within [1, 3) whatever their intended time, two a second: not the
    # twenty offered
    assert s["requests"] == 4 and s["offered"] == 20 and s["failures"] == 0
    assert s["unsent"] == 0 and s["late_share"] == 0
    late = open_rate.summarise(req, 3, 4)  # intended 3.0 .. 3.9: six of ten never sent
    assert late["unsent"] == 4 and late["failures"] == 4 and late["late_share"] == pytest.approx(0.4)
    assert late["p99_ms"] == late["p99_ms"]  # the sent ones' latency, unsent left out


def test_the_open_loads_calibration_says_what_it_kept_cost_and_added():
    rows = pd.DataFrame([
        dict(generator="wrk", variant="wrk, one connection", repeat=0, mean_ms=2.0),
        dict(generator="open", variant="open, idle server", repeat=0, mean_ms=2.5,
             offered=30, duration_s=3, asked_rate=10.0, late_share=0.0,
             generator_cpu_ms_per_req=0.4),
        dict(generator="open", variant="open, 25% of capacity", repeat=0, mean_ms=3.0,
             offered=300, duration_s=3, asked_rate=100.0, late_share=0.0,
             generator_cpu_ms_per_req=0.1),
        dict(generator="open", variant="open, 50% of capacity", repeat=0, mean_ms=4.0,
             offered=570, duration_s=3, asked_rate=200.0, late_share=0.02,
             generator_cpu_ms_per_req=0.1)])
    o = open_rate.calibration_summary(rows)
    assert o["kept"] == pytest.approx((1.0 + 0.95) / 2) and o["late_share_max"] == 0.02
    assert o["generator_cpu_ms"] == pytest.approx(0.1) and o["one_core_req_s"] == pytest.approx(10_000)
    assert o["added_ms"] == pytest.approx(0.5)  # 2.5 ms from the open load, 2.0 from wrk
    with pytest.raises(ValueError, match="no open point at a share"):
        open_rate.calibration_summary(rows.iloc[:2])
    for kwargs, message in ((dict(capacity=0), "capacity must be"),
                            (dict(capacity=100, shares=(1.5,)), "shares must be")):
        with pytest.raises(ValueError, match=message):
            open_rate.calibrate("http://127.0.0.1:1/", "http://127.0.0.1:1/", **kwargs)


def test_an_open_points_limit():
    base = dict(limit="unexplained", late_share=0.0, generator_load=0.2, offered=3000)
    assert open_rate._open_limit(base) == limits.RATE
    assert open_rate._open_limit({**base, "late_share": 0.05}) == "generator"
    # one stall at 10/s (one late send of 30) is no lost schedule; ten of 300 are
    assert open_rate._open_limit({**base, "offered": 30, "late_share": 1 / 30}) == limits.RATE
    assert open_rate._open_limit({**base, "offered": 300, "late_share": 10 / 300}) \
        == "generator"
    assert open_rate._open_limit({**base, "generator_load": 0.9}) == "generator"
    assert open_rate._open_limit({**base, "limit": "server"}) == "server"
    assert open_rate._open_limit({**base, "limit": "failures"}) == "failures"
    # the server CPUs saturated, but not by the servers: never a point at its offered rate
    assert open_rate._open_limit({**base, "server_cpus_busy": 0.99}) == "unexplained"
    assert limits.flags({}, limits.RATE)["limit"] == "rate"
    with pytest.raises(ValueError, match="lim must be one of"):
        limits.flags({}, "fast")


@pytest.mark.parametrize("kwargs, message", [
    (dict(url="127.0.0.1/", rate=10), "url must be an http:// URL"),
    (dict(url="http://127.0.0.1/", rate=0), "rate must be a number of requests per second"),
    (dict(url="http://127.0.0.1/", rate=50_000), "at most 20000"),
    (dict(url="http://127.0.0.1/", rate=10, duration=0), "duration"),
])
def test_an_open_point_refuses_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        open_rate.point("http://127.0.0.1:9/", **kwargs)


def test_the_check_run_refuses_a_utilisation_at_capacity_and_a_bad_overload():
    for bad in ((0,), (1.0,), (True,), ()):
        with pytest.raises(ValueError, match="utilisations must"):
            cap.check_run(None, costs(), utilisations=bad)
    for bad in (1.0, 5, True):
        with pytest.raises(ValueError, match="overload must be"):
            cap.check_run(None, costs(), overload=bad)
    assert math.isclose(cap.c16_rate(), 2 * 100_000 / 86_400 * 4.3)  # independent of the thread


def test_the_check_summary_says_which_input_predicted_better():
    pred = pd.DataFrame([{"repeat": 0, "variant": "70% by the model (open)",
                          "CPU-ms per page here": 33.0,
                          "CPU-ms per page saturated": 30.0, "U measured": 0.77,
                          "U predicted (model)": 0.7, "U predicted (this run)": 0.7,
                          "R measured (ms)": 130.0, "R M/M/1 (ms)": 100.0,
                          "R M/M/1, measured U (ms)": 143.5, "L in flight": 2.0,
                          "X × R": 2.1}])
    k = cap.check_summary(pred)
    assert k["cpu_below_over_saturated"] == pytest.approx(1.1)
    assert k["u_measured_over_model"] == pytest.approx(1.1)
    assert k["mm1_error"] == pytest.approx(30 / 130) and k["mm1_measured_u_error"] < 0.11
    with pytest.raises(ValueError, match="no open point"):
        cap.check_summary(pred.iloc[:0])
    # a point past capacity (no queue settles: M/M/1 infinite) is left out of the summary
    past = pred.assign(variant=cap.PAST_CAPACITY, **{"R M/M/1 (ms)": math.inf})
    assert cap.check_summary(pd.concat([pred, past]))["mm1_error"] == pytest.approx(30 / 130)


def test_past_capacity_compares_what_was_served_with_the_saturated_rate():
    check = pd.DataFrame([dict(repeat=0, generator="wrk", req_s=60.0),
                          dict(repeat=0, generator="open", req_s=58.0)])
    pred = pd.DataFrame([dict(repeat=0, variant="70% by the model (open)",
                              **{"U predicted (model)": 0.7, "offered req/s": 40.0,
                                 "measured req/s": 40.0, "U measured": 0.7,
                                 "R measured (ms)": 30.0, "R p99 (ms)": 90.0, "limit": "rate"}),
                         dict(repeat=0, variant=cap.PAST_CAPACITY,
                              **{"U predicted (model)": 1.2, "offered req/s": 70.0,
                                 "measured req/s": 57.0, "U measured": 0.99,
                                 "R measured (ms)": 900.0, "R p99 (ms)": 2000.0,
                                 "limit": "server"})])
    past = cap.past_capacity(pred, check)
    assert list(past.variant) == [cap.PAST_CAPACITY]
    assert past["served ÷ saturated"].iloc[0] == pytest.approx(57 / 60)
    assert past["offered ÷ saturated"].iloc[0] == pytest.approx(70 / 60)
    assert cap.past_capacity(pred.iloc[:1], check).empty


def test_the_model_line_is_the_plan_in_words():
    line = cap.model_line(100_000, 2, 30, 2.4, 0.5, 30.0, 2.0, 8)
    # 20,000 users, 666.7 views/s, 16 ms a view (half hits at 2, half misses at 30):
    # 666.7 × 0.016 ÷ 0.7 = 15.2 cores, 2 servers of 8
    assert line == ("20,000 users at the peak → 666.7 page views/s → 16.00 CPU-ms a view → "
                    "15.2 cores at 70% → 2 server(s) of 8 cores")


def test_explore_shows_sliders_live_and_the_model_line_headless(monkeypatch):
    import IPython.display
    from scalelab.plumbing.kernel import HEADLESS
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    c = costs((30.0,), (2.0,))
    monkeypatch.setenv(HEADLESS, "1")
    cap.explore(c)
    assert "cores at 70%" in shown[-1].data and "live kernel" in shown[-1].data
    monkeypatch.delenv(HEADLESS)
    cap.explore(c)  # builds the widgets without a kernel (ipywidgets' comms are no-ops)
    assert type(shown[-1]).__name__ == "VBox" and len(shown[-1].children) == 9


def test_the_daily_users_slider_steps_by_decades_and_holds_the_threads_figure():
    from scalelab.experiments import capacity as cap

    steps = cap.DAILY_USER_STEPS
    assert steps[0] == 1_000 and steps[-1] == 10_000_000 and cap.THREAD_DAILY_USERS in steps
    assert len(steps) == 13  # 1, 2, 5 a decade: 100k sits in the middle of the track
    assert abs(steps.index(cap.THREAD_DAILY_USERS) - len(steps) // 2) <= 1


def test_the_hit_mix_solution_gives_the_mixed_cost_the_misses_share_and_the_cores():
    text = cap.hit_mix_solution(costs((30.0,), (3.0,)), 0.95)
    # 0.95 × 3 + 0.05 × 30 = 4.35 ms; the misses 1.5 of it; 666.7 views/s × 4.35 ms ÷ 0.7
    assert "0.95 × 3.00 + 0.05 × 30.0 = **4.35 CPU-ms**" in text
    assert "**34%** of the cost" in text and "**4.1 cores**" in text
    assert "against 2.9 with every view a hit and 29 uncached" in text


@pytest.mark.parametrize("cached_ms, said", [(3.0, "fewer than 30 do."),
                                             (40.0, "30 are not enough.")])
def test_the_break_even_solution_is_the_think_time_thirty_servers_carry(cached_ms, said):
    from scalelab.plumbing.numbers import fmt

    text = cap.break_even_solution(costs((60.0,), (cached_ms,)))
    # 20,000 users ÷ (30 servers × 0.7 × 1000 ÷ cost) = cost × 20 ÷ 21 seconds
    assert f"every **{fmt(cached_ms * 20 / 21)} s**" in text and text.endswith(said)


def _summary(cpu, u, mm1, mm1_measured):
    return {"cpu_below_over_saturated": cpu, "u_measured_over_model": u, "mm1_error": mm1,
            "mm1_measured_u_error": mm1_measured}


def test_the_check_takeaway_says_the_cost_moved_only_when_it_did():
    from scalelab.experiments.capacity import check_takeaway

    moved = check_takeaway(_summary(1.32, 0.81, 0.4, 0.1))
    assert "a page cost 1.32× below saturation" in moved and "does not carry" in moved
    assert "utilisation measured was 0.810× the model's" in moved
    assert "fed the utilisation actually reached came closer" in moved
    held = check_takeaway(_summary(1.04, 1.2, 0.1, 0.3))
    assert "at saturation: the cost held from light load to saturation" in held
    assert "fed the planned utilisation came as close" in held
