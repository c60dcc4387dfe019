"""Capacity planning (notebook 09): from traffic to load, from load to cores, and a check of
the model against the machine.

The arithmetic is plain functions, each a line of the model, in
``scalelab.verdicts.capacity_model`` (where 09's rules use it too) and re-exported here, so the
notebook's ``cap.cores``, ``cap.PEAK_FACTOR`` ... work as they read: from traffic to load
(users, think time, page views, the peak), and from load to cores (the utilisation law at 70%).
This module adds the measured costs, the scenarios and the plan, the sliders, and the check run.

The CPU per request comes from the lab's reference results (``data/reference/``), with the
machine and commit they were measured on: 02-caching's home page uncached, from Django's
per-view cache and from nginx's microcache (one run, interleaved), and 04-static-offloading's
cost of an asset served by nginx. The check run measures the same page here, now, under an
open arrival rate (``scalelab.load.open_rate``) at the rate the model says one core sustains.
The deployment run plans C16's load on the scale model's small hosts (``hosts.DEPLOYMENT``),
starts that deployment and runs the plan's rate through it: predicted against measured.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import pandas as pd

from scalelab.load import open_rate, wrk
from scalelab import results
from scalelab.plumbing import hosts
from scalelab.plumbing.checks import check_int
from scalelab.plumbing.kernel import headless
from scalelab.plumbing.cpus import CpuLayout
from scalelab.plumbing.numbers import fmt
from scalelab.results.reference import replayable, replayed_without_hosts
from scalelab.results import done, keep
from scalelab.servers.stack import Stack
from scalelab.verdicts.capacity_model import (  # noqa: F401  (the notebook calls them here)
    ASSETS_PER_VIEW, C16_PEAK_FACTOR, DAY_S, HITS_A_DAY, MONTH_S, PAGES_PER_UNIQUE, PEAK_FACTOR,
    PEAK_RANGE, SITES, THINK_RANGE,
    THINK_S, THREAD_DAILY_USERS, THREAD_PEAK_USERS, THREAD_SERVERS, THREAD_SESSION_HOURS,
    THREAD_USERS_PER_SERVER, UTILISATION, _positive, _share, average_concurrency,
    break_even_think_s, cores, hit_mix, implied_peak_factor, page_views_per_s,
    peak_concurrency, per_day_to_peak_per_s, per_month_to_peak_per_s, rate_per_core,
    requests_per_s, servers, users_per_core)
from scalelab.verdicts.rules.capacity import C16_LOAD, DEPLOYED, PER_VIEW, UNCACHED

CONFIGS = {  # a configuration of the model -> 02-caching's where-to-cache variant
    UNCACHED: "no cache",
    PER_VIEW: "view",
    "nginx microcache": "nginx microcache",
}


# --- the measured costs ------------------------------------------------------------------------
def reference_costs(assets_per_view: float = ASSETS_PER_VIEW) -> pd.DataFrame:
    """One row per configuration and repeat of 02-caching's where-to-cache reference (the
    home page on 100,000 questions), server-bound points only: CPU-ms per page by component,
    one nginx asset's CPU (04-static-offloading's reference, the median of its server-bound
    points), CPU-ms per page view (page + ``assets_per_view`` assets), and where they were
    measured."""
    _positive("assets_per_view", assets_per_view, allow_zero=True)
    pages = results.load_reference("02-caching", "where-to-cache")
    assets = results.load_reference("04-static-offloading", "who-serves")
    asset = assets[(assets.config == "nginx") & (assets.variant == "assets")
                   & (assets.limit == "server")]
    asset_ms = float(asset.cpu_ms_per_req_server.median()) if len(asset) else math.nan
    meta = results.reference_meta("02-caching", "where-to-cache")
    env = meta.get("environment", {})
    asset_env = results.reference_meta("04-static-offloading", "who-serves").get("environment", {})
    rows = []
    for config, variant in CONFIGS.items():
        for _, r in pages[pages.variant == variant].iterrows():
            row = {"config": config, "variant": variant, "repeat": int(r["repeat"]),
                   "limit": r["limit"]}
            for comp in ("app", "db", "cache", "proxy", "server"):
                row[f"cpu_ms_per_req_{comp}"] = float(r[f"cpu_ms_per_req_{comp}"])
            row["asset_cpu_ms"] = asset_ms
            row["cpu_ms_per_view"] = row["cpu_ms_per_req_server"] + assets_per_view * asset_ms
            rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["measured_on"] = (f"{env.get('cores', '?')} cores ({env.get('cpu_model', '?')}), "
                               f"commit {str(env.get('git_commit', '?'))[:7]}, "
                               f"{str(meta.get('saved', '?'))[:10]} (the asset's: commit "
                               f"{str(asset_env.get('git_commit', '?'))[:7]})")
    return df[df.limit == "server"].reset_index(drop=True)


def measured_on(costs: pd.DataFrame) -> str:
    """Where the costs were measured, as a phrase."""
    return costs.attrs.get("measured_on", "the reference machine")


def cost_summary(costs: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: CPU-ms per page view (median, min, max over repeats) and by
    component, and the page views one core serves at 70%."""
    needed = ["config", "cpu_ms_per_view", "cpu_ms_per_req_app", "cpu_ms_per_req_db",
              "cpu_ms_per_req_proxy", "asset_cpu_ms"]
    if not isinstance(costs, pd.DataFrame) or costs.empty \
            or not set(needed) <= set(costs.columns):
        given = (f"a table with columns {list(costs.columns)}"
                 if isinstance(costs, pd.DataFrame) else type(costs).__name__)
        raise ValueError(f"costs must be the rows of reference_costs() (a table with the "
                         f"columns {', '.join(needed)}), not {given}")
    g = costs.groupby("config", sort=False)
    out = pd.DataFrame({
        "cpu_ms_per_view": g.cpu_ms_per_view.median(),
        "min": g.cpu_ms_per_view.min(), "max": g.cpu_ms_per_view.max(),
        "app_ms": g.cpu_ms_per_req_app.median(), "db_ms": g.cpu_ms_per_req_db.median(),
        "proxy_ms": g.cpu_ms_per_req_proxy.median(),
        "assets_ms": g.asset_cpu_ms.median() * ASSETS_PER_VIEW,
        "repeats": g.size()})
    out["views_per_s_per_core"] = [rate_per_core(v) for v in out.cpu_ms_per_view]
    return out


# --- scenarios ----------------------------------------------------------------------------------
def hit_mix_solution(costs: pd.DataFrame, hit_ratio: float = 0.95) -> str:
    """Exercise 1's worked solution: a page view's CPU with a cache hitting ``hit_ratio``
    (``hit_mix`` of the reference's uncached and per-view-cache costs), the misses' share of
    it, and the cores the thread's 20,000 users then need (``plan``, its first scenario)."""
    summary = cost_summary(costs)
    miss, hit = summary.loc[UNCACHED, "cpu_ms_per_view"], summary.loc[PER_VIEW, "cpu_ms_per_view"]
    mixed = hit_mix(miss, hit, hit_ratio)
    misses = (1 - hit_ratio) * miss / mixed
    planned = plan(costs, hit_ratio=hit_ratio)
    thread = planned[planned.scenario == planned.scenario.iloc[0]].set_index("config").cores
    return (f"A view costs {hit_ratio:g} × {fmt(hit, 3)} + {1 - hit_ratio:.2g} × {fmt(miss, 3)} = "
            f"**{fmt(mixed, 3)} CPU-ms**: the misses are {1 - hit_ratio:.0%} of the views but "
            f"**{misses:.0%}** of the cost, since each costs a whole uncached page. The thread's "
            f"20,000 users then need **{fmt(thread[f'cache hitting {hit_ratio:.0%}'])} cores**, "
            f"against {fmt(thread[PER_VIEW])} with every view a hit and "
            f"{fmt(thread[UNCACHED])} uncached: the cores follow the cost.")


def break_even_solution(costs: pd.DataFrame) -> str:
    """Exercise 2's worked solution: the think time at which the thread's 20,000 users need
    exactly its 30 one-core servers, with the per-view cache and uncached."""
    summary = cost_summary(costs)
    cached = break_even_think_s(summary.loc[PER_VIEW, "cpu_ms_per_view"])
    uncached = break_even_think_s(summary.loc[UNCACHED, "cpu_ms_per_view"])
    return (f"With the per-view cache, {THREAD_PEAK_USERS:,} users need exactly "
            f"{THREAD_SERVERS} one-core servers at a page every **{fmt(cached)} s**; uncached, "
            f"every {fmt(uncached)} s ({fmt(uncached / cached)} times longer, the ratio of the "
            f"two costs per view). Users who read longer than {fmt(cached)} s between pages "
            f"need fewer servers with the cache; at the notebook's {THINK_S:g} s, "
            + ("fewer than 30 do." if THINK_S > cached else "30 are not enough."))


def scenarios(daily_users: float = THREAD_DAILY_USERS,
              session_hours: float = THREAD_SESSION_HOURS, think_s: float = THINK_S,
              peak_factor: float = PEAK_FACTOR, pages_per_unique: float = PAGES_PER_UNIQUE
              ) -> pd.DataFrame:
    """The traffic of each scenario at its peak, in page views a second: the thread's users
    (at the thread's own peak factor, its 20,000 at once), 100k hits a day (each hit a page
    view: the costliest reading), and the cited sites' monthly figures; and in HTTP requests a
    second, each page view with its ``ASSETS_PER_VIEW`` assets."""
    users = peak_concurrency(daily_users, session_hours, peak_factor)
    rows = [
        {"scenario": f"{daily_users:,.0f} users a day, {session_hours:g} h each",
         "traffic": f"{users:,.0f} users at the peak ({peak_factor:.2g}× the average), a page "
                    f"every {think_s:g} s", "peak_page_views_s": page_views_per_s(users, think_s)},
        {"scenario": "100k hits a day (C16)",
         "traffic": f"{HITS_A_DAY:,} page views a day, peak {peak_factor:.2g}× the average",
         "peak_page_views_s": per_day_to_peak_per_s(HITS_A_DAY, peak_factor)},
    ]
    for site, (kind, per_month) in SITES.items():
        views = per_month * (pages_per_unique if kind == "uniques" else 1)
        note = f" × {pages_per_unique:g} page views each (assumed)" if kind == "uniques" else ""
        rows.append({"scenario": site,
                     "traffic": f"{per_month:,.0f} {kind} a month{note}",
                     "peak_page_views_s": per_month_to_peak_per_s(views, peak_factor)})
    df = pd.DataFrame(rows).set_index("scenario")
    df["peak_requests_s"] = [requests_per_s(v) for v in df.peak_page_views_s]
    return df


def plan(costs: pd.DataFrame, traffic: pd.DataFrame | None = None,
         utilisation: float = UTILISATION, cores_per_server: int = 8,
         hit_ratio: float | None = None) -> pd.DataFrame:
    """Cores (median over the cost's repeats, with min and max) and servers of
    ``cores_per_server`` cores for each scenario and configuration. With ``hit_ratio``, a
    "cache at this hit ratio" configuration mixes the per-view cache's hits with uncached
    misses."""
    traffic = scenarios() if traffic is None else traffic
    summary = cost_summary(costs)
    per_view = summary[["cpu_ms_per_view", "min", "max"]].copy()
    if hit_ratio is not None:
        miss, hit = summary.loc[UNCACHED], summary.loc[PER_VIEW]
        per_view.loc[f"cache hitting {hit_ratio:.0%}"] = [
            hit_mix(miss[c], hit[c], hit_ratio) for c in ("cpu_ms_per_view", "min", "max")]
    rows = []
    for scenario, t in traffic.iterrows():
        for config, c in per_view.iterrows():
            need = cores(t.peak_page_views_s, c.cpu_ms_per_view, utilisation)
            rows.append({"scenario": scenario, "config": config,
                         "peak_page_views_s": t.peak_page_views_s,
                         "cpu_ms_per_view": c.cpu_ms_per_view, "cores": need,
                         "cores_min": cores(t.peak_page_views_s, c["min"], utilisation),
                         "cores_max": cores(t.peak_page_views_s, c["max"], utilisation),
                         f"servers_of_{cores_per_server}_cores": servers(need,
                                                                          cores_per_server)})
    return pd.DataFrame(rows)


def plan_table(costs: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """``plan`` as one row per scenario, one column of cores per configuration (median,
    with the range over repeats): the static table the exported page shows."""
    p = plan(costs, **kwargs)
    p["cores (range)"] = [f"{c:,.1f} ({lo:,.1f} to {hi:,.1f})" if c < 100 else
                          f"{c:,.0f} ({lo:,.0f} to {hi:,.0f})"
                          for c, lo, hi in zip(p.cores, p.cores_min, p.cores_max)]
    t = p.pivot(index="scenario", columns="config", values="cores (range)")
    t = t.reindex(index=list(dict.fromkeys(p.scenario)), columns=list(dict.fromkeys(p.config)))
    rates = p.groupby("scenario", sort=False).peak_page_views_s.first()
    t.insert(0, "page views/s at the peak", rates.map(lambda v: f"{v:,.1f}"))
    return t


def thread_servers(costs: pd.DataFrame, think_s: float = THINK_S,
                   utilisation: float = UTILISATION) -> pd.DataFrame:
    """The thread's 20,000 concurrent users: per configuration, cores needed, users one core
    carries, and the think time at which 30 one-core servers are exactly enough."""
    s = cost_summary(costs)
    rate = page_views_per_s(THREAD_PEAK_USERS, think_s)
    return pd.DataFrame({
        "cpu_ms_per_view": s.cpu_ms_per_view,
        "cores for 20,000 users": [cores(rate, v, utilisation) for v in s.cpu_ms_per_view],
        "users per core": [users_per_core(v, think_s, utilisation) for v in s.cpu_ms_per_view],
        "break-even think time (s)": [break_even_think_s(v, utilisation=utilisation)
                                      for v in s.cpu_ms_per_view]})


def think_time_curve(costs: pd.DataFrame, think_times: Sequence[float] = (
        5, 7, 10, 15, 20, 30, 45, 60, 90, 120)) -> pd.DataFrame:
    """Cores for the thread's 20,000 users against the think time, per configuration
    (median cost, and the range over repeats)."""
    s = cost_summary(costs)
    rows = []
    for z in think_times:
        rate = page_views_per_s(THREAD_PEAK_USERS, z)
        for config, c in s.iterrows():
            rows.append({"think_s": z, "config": config,
                         "cores": cores(rate, c.cpu_ms_per_view),
                         "cores_min": cores(rate, c["min"]), "cores_max": cores(rate, c["max"])})
    return pd.DataFrame(rows)


def model_line(daily_users: float, session_hours: float, think_s: float, peak_factor: float,
               hit_ratio: float, miss_ms: float, hit_ms: float, cores_per_server: int) -> str:
    """The model from traffic to servers in one line, for the sliders' values."""
    users = peak_concurrency(daily_users, session_hours, peak_factor)
    views = page_views_per_s(users, think_s)
    per_view = hit_mix(miss_ms, hit_ms, hit_ratio)
    need = cores(views, per_view)
    return (f"{users:,.0f} users at the peak → {views:,.1f} page views/s → {per_view:.2f} "
            f"CPU-ms a view → {need:,.1f} cores at {UTILISATION:.0%} → "
            f"{servers(need, cores_per_server):,} server(s) of {cores_per_server} cores")


DAILY_USER_STEPS = tuple(sorted({m * 10 ** k for k in range(3, 7) for m in (1, 2, 5)}
                               | {10_000_000, THREAD_DAILY_USERS}))


def explore(costs: pd.DataFrame):
    """Sliders (ipywidgets) for daily users, session length, think time, peak factor, hit
    ratio and CPU per page, and the servers they need, recomputed as they move. Widgets run
    only in a live kernel: executed headless (papermill sets ``SCALELAB_HEADLESS``: nobody
    can move them there, an exported page cannot run them, and nbclient can block on their
    messages), it shows the model's line at the thread's values instead."""
    from IPython.display import Markdown, display

    s = cost_summary(costs)
    miss, hit = s.loc[UNCACHED, "cpu_ms_per_view"], s.loc[PER_VIEW, "cpu_ms_per_view"]
    start = dict(daily_users=THREAD_DAILY_USERS, session_hours=THREAD_SESSION_HOURS,
                 think_s=THINK_S, peak_factor=round(PEAK_FACTOR, 2), hit_ratio=0.0,
                 miss_ms=round(miss, 2), hit_ms=round(hit, 2), cores_per_server=8)
    if headless():
        display(Markdown("*The sliders appear here in a live kernel (`make lab`). At the "
                         "thread's values, uncached, the model gives:* "
                         + model_line(**start)))
        return
    import ipywidgets as w

    style = {"description_width": "200px"}
    layout = w.Layout(width="560px")

    def slider(kind, name, low, high, step, description):
        return kind(value=start[name], min=low, max=high, step=step, description=description,
                    style=style, layout=layout, continuous_update=False)

    def number(name, description):
        return w.FloatText(value=start[name], description=description, style=style,
                           layout=layout)

    controls = dict(
        # steps of 1, 2, 5 per decade (100k sits mid-track, not at 1% of it), with separators
        daily_users=w.SelectionSlider(options=[(f"{v:,}", v) for v in DAILY_USER_STEPS],
                                      value=start["daily_users"], description="daily users",
                                      style=style, layout=layout, continuous_update=False),
        session_hours=slider(w.FloatSlider, "session_hours", 0.05, 8, 0.05, "session (hours)"),
        think_s=slider(w.FloatSlider, "think_s", 1, 300, 1, "think time (s)"),
        peak_factor=slider(w.FloatSlider, "peak_factor", 1, 10, 0.1, "peak factor"),
        hit_ratio=slider(w.FloatSlider, "hit_ratio", 0, 1, 0.01, "cache hit ratio"),
        miss_ms=number("miss_ms", "CPU-ms per uncached view"),
        hit_ms=number("hit_ms", "CPU-ms per cached view"),
        cores_per_server=slider(w.IntSlider, "cores_per_server", 1, 128, 1, "cores per server"),
    )
    out = w.Output()

    def update(_=None) -> None:
        out.clear_output(wait=True)
        with out:
            try:
                print(model_line(**{k: c.value for k, c in controls.items()}))
            except ValueError as exc:
                print(f"not a valid input: {exc}")

    for c in controls.values():
        c.observe(update, names="value")
    update()
    display(w.VBox([*controls.values(), out]))


# --- 3. the check run ----------------------------------------------------------------------------
C16_VARIANT = C16_LOAD  # the open point C16 is decided on (named in rules.capacity)


def c16_rate(peak_factor: float = C16_PEAK_FACTOR) -> float:
    """Twice the peak rate of 100,000 hits a day: "100k hits/day and more". The peak factor is
    the top of the independent range ``PEAK_RANGE`` (a site used in working hours only), not
    the one the thread's own figures imply."""
    return 2 * per_day_to_peak_per_s(HITS_A_DAY, peak_factor)


def start_stack(questions: int = 100_000, workers: int = 2, layout: CpuLayout | None = None,
                label: str = "09") -> Stack:
    """The app under gunicorn on PostgreSQL, as 02 measured its uncached home page."""
    return Stack(questions=questions, workers=workers, layout=layout, label=label).start()


def stop(stack: Stack) -> None:
    stack.stop()


PAST_CAPACITY = "past capacity (open)"  # the check run's point beyond the saturated rate


def model_rate(costs: pd.DataFrame, utilisation: float, server_cpus: int = 1) -> float:
    """The rate the model says ``server_cpus`` cores serve the uncached home page (the page
    alone, no assets) at ``utilisation``: the reference's median CPU per page."""
    per_page = costs[costs.config == UNCACHED].cpu_ms_per_req_server.median()
    return rate_per_core(per_page, utilisation) * server_cpus


@replayable
def check_run(stack: Stack, costs: pd.DataFrame, utilisations: Sequence[float] = (0.7,),
              overload: float | None = 1.5,
              duration: int = 5, warmup: int = 2, repeats: int = 1, connections: int = 8,
              layout: CpuLayout | None = None,
              on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Per repeat: the uncached home page at saturation (wrk, closed: today's CPU per page
    on this stack); under Poisson arrivals (``open_rate``) at twice the peak rate of 100k hits
    a day (C16's load); then at the rate the model gives for each target utilisation of the
    server CPUs; last, past capacity: ``overload`` times what the saturated point served
    (``PAST_CAPACITY``; None: no such point), where the queue grows through the window and
    what was served is the server's rate. Rows carry ``target_utilisation`` and
    ``model_cpu_ms`` (the reference's CPU per page the rates came from)."""
    if not utilisations:
        raise ValueError("utilisations must name at least one target utilisation")
    for u in utilisations:
        _share("utilisations", u, low_open=True)
        if u >= 1:
            raise ValueError(f"utilisations must be below 1 (a load the model says the server "
                             f"takes; past it, use overload), not {u!r}")
    if overload is not None and (isinstance(overload, bool) or not isinstance(
            overload, (int, float)) or not 1.1 <= overload <= 3):
        raise ValueError(f"overload must be a multiple of the saturated rate from 1.1 to 3, "
                         f"or None, not {overload!r}")
    check_int("repeats", repeats, 1, 20)
    lay = layout or stack.layout
    url = stack.app_url + "/"
    model_ms = float(costs[costs.config == UNCACHED].cpu_ms_per_req_server.median())
    rows: list = []
    for repeat in range(repeats):
        sat = wrk.point(stack, url, connections, duration, warmup if repeat == 0 else 1, lay,
                        "saturated (wrk, closed)", repeat)
        keep(rows, {**sat, "target_utilisation": math.nan, "model_cpu_ms": model_ms}, on_point)
        rec = open_rate.point(stack, url, c16_rate(), duration, warmup, lay, C16_VARIANT,
                              repeat, seed=1 + repeat)
        keep(rows, {**rec, "target_utilisation": math.nan, "model_cpu_ms": model_ms}, on_point)
        for u in sorted(utilisations):
            rate = model_rate(costs, u, len(lay.server))
            rec = open_rate.point(stack, url, rate, duration, warmup, lay,
                                  f"{u:.0%} by the model (open)", repeat, seed=1 + repeat)
            keep(rows, {**rec, "target_utilisation": u, "model_cpu_ms": model_ms}, on_point)
        if overload is not None and sat["req_s"] > 0:
            rec = open_rate.point(stack, url, overload * sat["req_s"], duration, warmup, lay,
                                  PAST_CAPACITY, repeat, seed=1 + repeat)
            keep(rows, {**rec, "target_utilisation": math.nan, "model_cpu_ms": model_ms,
                        "overload": overload}, on_point)
    return done(rows, on_point)


def predictions(check: pd.DataFrame, server_cpus: int = 1) -> pd.DataFrame:
    """Per open point: the offered rate; the utilisation the model predicted (rate × the
    reference's CPU per page), the one this run's saturated point predicts (rate × today's
    CPU per page), and the one measured (busy share of the server CPUs); the mean response
    time measured and as M/M/1 and M/D/1 queues predict from today's CPU per page (and M/M/1
    from the point's own CPU per page and measured utilisation); Little's
    L (requests in flight, time-averaged, from the generator's own records) beside X × R."""
    check_int("server_cpus", server_cpus, 1, 1024)
    n_cpus = server_cpus
    rows = []
    for repeat, part in check.groupby("repeat"):
        sat = part[part.generator != "open"]
        d_now = float(sat.cpu_ms_per_req_server.mean()) if len(sat) else math.nan
        for _, r in part[part.generator == "open"].iterrows():
            rho_now = r.offered_rate * d_now / 1000 / n_cpus
            rows.append({
                "repeat": repeat, "variant": r.variant, "offered req/s": r.offered_rate,
                "measured req/s": r.req_s,
                "U predicted (model)": r.offered_rate * r.model_cpu_ms / 1000 / n_cpus,
                "U predicted (this run)": rho_now,
                "U measured": r.server_cpus_busy,
                "CPU-ms per page here": r.cpu_ms_per_req_server,
                "CPU-ms per page saturated": d_now,
                "R measured (ms)": r.mean_ms, "R p99 (ms)": r.p99_ms,
                "R M/M/1 (ms)": d_now / (1 - rho_now) if rho_now < 1 else math.inf,
                "R M/D/1 (ms)": d_now * (1 + rho_now / (2 * (1 - rho_now)))
                if rho_now < 1 else math.inf,
                # the same queue, from what this point itself measured: its CPU per page and
                # its utilisation
                "R M/M/1, measured U (ms)": r.cpu_ms_per_req_server / (1 - r.server_cpus_busy)
                if r.server_cpus_busy < 1 else math.inf,
                "L in flight": r.in_flight_mean, "X × R": r.req_s * r.mean_ms / 1000,
                "limit": r["limit"]})
    return pd.DataFrame(rows)


def check_summary(pred: pd.DataFrame) -> dict:
    """What the check run says, over every open point below capacity (all but
    ``PAST_CAPACITY``) and repeat (medians): the CPU per page below saturation ÷ at
    saturation, how far the measured utilisation ran from the model's
    and from this run's prediction (measured ÷ predicted), and which M/M/1 estimate of the
    mean response time came closer (its error as a share of the measured time)."""
    pred = pred[pred.variant != PAST_CAPACITY]  # past capacity no queue settles
    if pred.empty:
        raise ValueError("pred has no open point below capacity: run check_run first")
    err = lambda col: float(((pred[col] - pred["R measured (ms)"]).abs()
                             / pred["R measured (ms)"]).median())
    return {
        "points": int(len(pred)), "repeats": int(pred.repeat.nunique()),
        "cpu_below_over_saturated": float(
            (pred["CPU-ms per page here"] / pred["CPU-ms per page saturated"]).median()),
        "u_measured_over_model": float((pred["U measured"] / pred["U predicted (model)"])
                                       .median()),
        "u_measured_over_this_run": float((pred["U measured"]
                                           / pred["U predicted (this run)"]).median()),
        "mm1_error": err("R M/M/1 (ms)"),
        "mm1_measured_u_error": err("R M/M/1, measured U (ms)"),
        "littles_l": float(pred["L in flight"].median()),
        "littles_xr": float(pred["X × R"].median()),
    }


COST_HELD = 0.1  # a cost below saturation within this share of the saturated one "held"


def check_takeaway(summary: dict) -> str:
    """The takeaway on checking a model under an open load, from :func:`check_summary`: did
    a page's CPU cost below saturation differ from its cost at saturation (by more than
    ``COST_HELD``), how far the measured utilisation ran from the model's, and which
    utilisation, fed to an M/M/1 queue, came closer to the measured response time."""
    cpu, u = summary["cpu_below_over_saturated"], summary["u_measured_over_model"]
    cost = (f"a page cost {fmt(cpu, 3)}× below saturation what it cost at saturation"
            + (", so one cost per request does not carry from load to load" if abs(cpu - 1) > COST_HELD
               else ": the cost held from light load to saturation"))
    measured_better = summary["mm1_measured_u_error"] < summary["mm1_error"]
    queue = ("an M/M/1 queue fed the utilisation actually reached came closer to the measured "
             "response time than one fed the planned utilisation" if measured_better else
             "an M/M/1 queue fed the planned utilisation came as close to the measured response "
             "time as one fed the utilisation actually reached")
    return (f"A model's prediction must be checked under an open load: here {cost}; the "
            f"utilisation measured was {fmt(u, 3)}× the model's; and {queue}.")


# --- the plan run on a model deployment ------------------------------------------------------
DEPLOYMENT_WORKERS = 2  # sync workers per app host, as in 05's scale model
# s of closed load before the first window, outside the hosts: each worker's first render
# (its database connection, Django's lazy set-up) takes seconds at 1/16 core, and would
# otherwise start the window with a queue the plan knows nothing of
DEPLOYMENT_WARMUP_S = 2
P99_FACTOR = math.log(100)  # an exponential response time's 99th percentile ÷ its mean
DEPLOYED_LOAD = "the plan's rate (open)"  # the variant of the deployment's points
COST_ALIKE = 0.05  # hosts' CPU per page within 5% of one core's: "about the same"


def deployment_plan(costs: pd.DataFrame, rate: float | None = None,
                    host_cores: float = hosts.DEPLOYMENT["app"],
                    utilisation: float = UTILISATION) -> dict:
    """The capacity plan for ``rate`` uncached home pages a second (default: C16's load,
    :func:`c16_rate`) on the model deployment (``hosts.DEPLOYMENT``): enough app hosts of
    ``host_cores`` for each to be at most ``utilisation`` busy at the reference's app CPU per
    page (median over its repeats), and what the plan predicts: each app host's, the
    database's and nginx's use of its quota, and an app host's response time as an M/M/1
    queue whose service time is the page's app CPU ÷ the host's cores (mean, and p99 = mean ×
    ln 100), and the mean of an M/D/1 queue (every page the same cost). The plan knows one unhosted core's cost; what a small host adds is what the
    deployment run measures."""
    rate = c16_rate() if rate is None else rate
    _positive("rate", rate)
    _share("utilisation", utilisation, low_open=True)
    if isinstance(host_cores, bool) or not isinstance(host_cores, (int, float)) \
            or not hosts.MIN_CORES <= host_cores < 1:
        raise ValueError(f"host_cores must be a host size from {hosts.MIN_CORES:g} to below 1 "
                         f"core, not {host_cores!r}")
    part = costs[costs.config == UNCACHED] if "config" in costs else costs.iloc[:0]
    if part.empty:
        raise ValueError("costs have no uncached home page: pass reference_costs()")
    ms = {c: float(part[f"cpu_ms_per_req_{c}"].median()) for c in ("app", "db", "proxy")}
    n = math.ceil(rate * ms["app"] / 1000 / (utilisation * host_cores))
    if n > hosts.MAX_APP_HOSTS:
        raise ValueError(f"the plan needs {n} app hosts of {host_cores:g} core for {rate:g} "
                         f"pages/s; the model deployment holds at most {hosts.MAX_APP_HOSTS}: "
                         "ask for a lower rate or larger hosts")
    app_util = rate * ms["app"] / 1000 / (n * host_cores)
    service_ms = ms["app"] / host_cores
    mean_ms = service_ms / (1 - app_util)
    return {"rate": rate, "app_hosts": n, "app_host_cores": host_cores,
            "utilisation": utilisation, "app_ms": ms["app"], "db_ms": ms["db"],
            "proxy_ms": ms["proxy"], "app_util": app_util,
            "db_util": rate * ms["db"] / 1000 / hosts.DEPLOYMENT["db"],
            "proxy_util": rate * ms["proxy"] / 1000 / hosts.DEPLOYMENT["proxy"],
            "service_ms": service_ms, "mean_ms": mean_ms, "p99_ms": mean_ms * P99_FACTOR,
            "mean_md1_ms": service_ms * (1 + app_util / (2 * (1 - app_util)))}


@replayable
@replayed_without_hosts
def deployment_run(costs: pd.DataFrame, rate: float | None = None,
                   host_cores: float = hosts.DEPLOYMENT["app"],
                   utilisation: float = UTILISATION, questions: int = 100_000,
                   duration: int = 10, warmup: int = 2, repeats: int = 1,
                   layout: CpuLayout | None = None,
                   on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """The plan (:func:`deployment_plan`) run: its app hosts behind nginx, the database,
    nginx and Redis in the deployment's hosts, warmed by a closed load outside the hosts; then
    per repeat, Poisson arrivals at the planned rate through nginx (``open_rate``), a window
    of ``duration`` s after ``warmup`` s. Rows carry the plan (``planned_*``, ``predicted_*``),
    each host's use of its quota (``host_*_util``; the app hosts' mean and most in
    ``app_hosts_util`` and ``app_hosts_util_max``), the CPU-ms per page of all hosts together
    (``cpu_ms_per_req_hosts``, the kernel's count of each) and per page view with the
    reference's assets (``cpu_ms_per_view``), ``config`` = ``DEPLOYED``."""
    plan = deployment_plan(costs, rate, host_cores, utilisation)
    check_int("repeats", repeats, 1, 20)
    sizes = {**hosts.DEPLOYMENT, "app": host_cores}
    assets_ms = float(costs[costs.config == UNCACHED].asset_cpu_ms.median()) * ASSETS_PER_VIEW
    fixed = {"config": DEPLOYED, "app_hosts": plan["app_hosts"], "app_host_cores": host_cores,
             "planned_rate": plan["rate"], "planned_utilisation": utilisation,
             "predicted_app_util": plan["app_util"], "predicted_db_util": plan["db_util"],
             "predicted_proxy_util": plan["proxy_util"],
             "predicted_mean_ms": plan["mean_ms"], "predicted_mean_md1_ms": plan["mean_md1_ms"],
             "predicted_p99_ms": plan["p99_ms"],
             "model_cpu_ms": plan["app_ms"] + plan["db_ms"] + plan["proxy_ms"]}
    rows: list[dict] = []
    with Stack(replicas=plan["app_hosts"], workers=DEPLOYMENT_WORKERS, proxy="nginx",
               cache="redis", hosts=sizes, questions=questions, layout=layout,
               label="09-deployment") as stack:
        url = stack.base_url + "/"
        cores = {key: host.quota_us / host.period_us for key, host in stack.hosts.items()}
        with stack.outside_hosts(), \
                wrk.background(url, 2 * DEPLOYMENT_WORKERS * plan["app_hosts"],
                               DEPLOYMENT_WARMUP_S, stack.layout, "wrk-warm.log", "warm") as warm:
            warm.report()
        for repeat in range(repeats):
            rec = open_rate.point(stack, url, plan["rate"], duration, warmup, stack.layout,
                                  DEPLOYED_LOAD, repeat, seed=1 + repeat)
            keep(rows, {**rec, **fixed, **_hosted_costs(rec, cores, assets_ms)}, on_point)
    return done(rows, on_point)


def _hosted_costs(rec: dict, cores: dict[str, float], assets_ms: float) -> dict:
    """The app hosts' mean and most use of their quota; the CPU-ms per page of every host
    together, and per page view with ``assets_ms`` of assets."""
    use = {key: rec.get(f"host_{key}_util", math.nan) for key in cores}
    app = [u for key, u in use.items() if key == "app" or key.startswith("app-")]
    per_page = (sum(u * cores[key] for key, u in use.items()) * 1000 / rec["req_s"]
                if rec["req_s"] > 0 else math.nan)
    return {"app_hosts_util": sum(app) / len(app) if app else math.nan,
            "app_hosts_util_max": max(app) if app else math.nan,
            "cpu_ms_per_req_hosts": per_page, "cpu_ms_per_view": per_page + assets_ms}


def deployment_check(rows: pd.DataFrame) -> pd.DataFrame:
    """Per repeat of :func:`deployment_run`: predicted against measured: the app hosts' use of
    their quota (mean and most), the database's and nginx's, the mean response time (M/M/1,
    M/D/1) and the p99 (M/M/1) with the requests the window held, and the CPU per page of all
    hosts against the reference's one core."""
    out = []
    for _, r in rows.iterrows():
        out.append({
            "repeat": r["repeat"], "app hosts": r.app_hosts, "offered req/s": r.offered_rate,
            "measured req/s": r.req_s,
            "plan's limit": r.planned_utilisation,
            "app host use, predicted": r.predicted_app_util,
            "app host use, measured (mean)": r.app_hosts_util,
            "app host use, measured (most)": r.app_hosts_util_max,
            "database use, predicted": r.predicted_db_util,
            "database use, measured": r.get("host_db_util", math.nan),
            "nginx use, predicted": r.predicted_proxy_util,
            "nginx use, measured": r.get("host_proxy_util", math.nan),
            "mean ms, M/M/1": r.predicted_mean_ms, "mean ms, M/D/1": r.predicted_mean_md1_ms,
            "mean ms, measured": r.mean_ms,
            "p99 ms, M/M/1": r.predicted_p99_ms, "p99 ms, measured": r.p99_ms,
            "requests in the window": r.requests,
            "CPU-ms per page, one core": r.model_cpu_ms,
            "CPU-ms per page, hosts": r.cpu_ms_per_req_hosts,
            "late share": r.get("late_share", math.nan), "limit": r["limit"]})
    return pd.DataFrame(out)


def deployment_summary(check: pd.DataFrame) -> dict:
    """What the deployment run says, over its repeats: the app hosts' mean use of their quota
    (median, least and most over repeats) against the plan's prediction, whether the plan
    held (no app host in any repeat past the plan's limit), all hosts' CPU per page ÷ the
    reference's one core (median) and a phrase for it, the queue (M/D/1 or M/M/1) whose mean response time came
    closer to the one measured, the p99 measured (median) and the fewest requests a window
    held."""
    if check.empty:
        raise ValueError("check has no row: run deployment_run, then deployment_check")
    use = check["app host use, measured (mean)"]
    most, limit = float(check["app host use, measured (most)"].max()), \
        float(check["plan's limit"].iloc[0])
    measured = check["mean ms, measured"].median()
    closer = min(("M/D/1", "M/M/1"),
                 key=lambda m: abs(check[f"mean ms, {m}"].median() - measured))
    ratio = float((check["CPU-ms per page, hosts"] / check["CPU-ms per page, one core"]).median())
    cost_note = ("more: nginx and Redis, which the plan left out, and what a small host adds"
                 if ratio > 1 + COST_ALIKE else
                 "less: a small host's page cost less than one core's under another run's load"
                 if ratio < 1 - COST_ALIKE else "about the same")
    return {"repeats": int(len(check)), "use": float(use.median()), "use_min": float(use.min()),
            "use_max": float(use.max()), "most": most, "limit": limit,
            "predicted": float(check["app host use, predicted"].iloc[0]), "held": most <= limit,
            "cost_ratio": ratio, "cost_note": cost_note,
            "closer": closer, "mean_ms": float(measured),
            "p99_ms": float(check["p99 ms, measured"].median()),
            "p99_mm1_ms": float(check["p99 ms, M/M/1"].iloc[0]),
            "requests": int(check["requests in the window"].min())}


def past_capacity(pred: pd.DataFrame, check: pd.DataFrame) -> pd.DataFrame:
    """The check run's open point past capacity (``PAST_CAPACITY``), per repeat: the rate
    offered and served, each ÷ this run's saturated (closed) rate, the server CPUs' busy
    share, and the response time (mean, p99); empty if there is none."""
    sat = check[check.generator != "open"].groupby("repeat").req_s.mean()
    part = pred[pred.variant == PAST_CAPACITY]
    return pd.DataFrame({
        "repeat": part.repeat, "variant": part.variant, "offered req/s": part["offered req/s"],
        "offered ÷ saturated": part["offered req/s"] / part.repeat.map(sat),
        "served req/s": part["measured req/s"],
        "served ÷ saturated": part["measured req/s"] / part.repeat.map(sat),
        "U measured": part["U measured"], "R measured (ms)": part["R measured (ms)"],
        "R p99 (ms)": part["R p99 (ms)"], "limit": part["limit"]}).reset_index(drop=True)
