"""The lab's standard charts, with units and error bars (min-max over repeats).

Every chart marks points where the load generator was saturated (hollow red markers: their
req/s says more about Locust than about Django) and says when it shows a single run.
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scalelab.verdicts.analysis import summarize
from scalelab.measurement.point import COMPONENTS
from scalelab.measurement.limits import worst_limit

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
COMPONENT_COLOURS = dict(zip(COMPONENTS, _PALETTE))  # a new component gets the next colour


def _single_run_note(ax, df: pd.DataFrame) -> None:
    """Say under the title when a chart shows one run (no error bars to show)."""
    if "repeat" in df.columns and df["repeat"].nunique() <= 1:
        ax.set_title(ax.get_title() + "\n(single run, quick mode: no spread shown)",
                     fontsize=10)


def _plain_ticks(ax, users, log_y: bool = False) -> None:
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xticks(sorted(set(int(u) for u in users)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    if log_y:
        from matplotlib.ticker import LogLocator

        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())


def _plain_log(ax, axes: str = "xy") -> None:
    """Plain numbers (5, 10, 200) on log axes, not powers of ten."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:,.10g}")
    for name in axes:
        axis = ax.xaxis if name == "x" else ax.yaxis
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(NullFormatter())


def _groups(df: pd.DataFrame, hue: str | None):
    if hue and hue in df.columns and df[hue].nunique() > 1:
        return list(df.groupby(hue, sort=False))
    return [(None, df)]


LIMIT_STYLE = {  # how a point not limited by the server is marked: edge colour, label
    "generator": ("red", "limited by the generator"),
    "unexplained": ("0.45", "not server-bound: limited by something else (users, slots, waits)"),
    "failures": ("black", "requests failed"),
    "rate": ("#2ca02c", "an open load at its offered rate (below capacity by design)"),
}


def _limits_by(part: pd.DataFrame, x: str) -> pd.Series:
    if "limit" in part.columns:
        return part.groupby(x)["limit"].agg(worst_limit)
    if "generator_saturated" in part.columns:  # rows saved before limits were recorded
        return part.groupby(x)["generator_saturated"].any().map(
            {True: "generator", False: "server"})
    return pd.Series("server", index=sorted(part[x].unique()))


def _errorbar(ax, s: pd.DataFrame, x: str, y: str, label, **kw):
    yerr = np.vstack([s[y] - s[f"{y}_min"], s[f"{y}_max"] - s[y]])
    line = ax.errorbar(s[x], s[y], yerr=yerr, capsize=3, marker="o", label=label, **kw)
    if "limit" in s.columns:
        for lim, (colour, text) in LIMIT_STYLE.items():
            flagged = s[s["limit"] == lim]
            if len(flagged):
                ax.scatter(flagged[x], flagged[y], s=130, facecolors="none", edgecolors=colour,
                           linewidths=1.6, zorder=5, label=text)
    return line


def _summary_with_limits(part: pd.DataFrame, metrics) -> pd.DataFrame:
    s = summarize(part, metrics=metrics, by=("users",))
    s["limit"] = _limits_by(part, "users").reindex(s["users"]).values
    return s


def throughput_vs_users(df: pd.DataFrame, ax=None, hue: str = "variant",
                        title: str = "Throughput as offered users grow", capacity=None):
    """Achieved req/s against simulated users (closed model). ``capacity`` (an
    ``analysis.Capacity``) draws the utilisation law's line with its range."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for key, part in _groups(df, hue):
        _errorbar(ax, _summary_with_limits(part, ("req_s",)), "users", "req_s", key)
    if capacity is not None and capacity.req_s == capacity.req_s:
        ax.axhline(capacity.req_s, color="0.3", ls="--", lw=1.2,
                   label=f"capacity from CPU cost: {capacity.server_cpus} CPU ÷ "
                         f"{capacity.cpu_ms_per_req:.3g} ms")
        ax.axhspan(capacity.low, capacity.high, color="0.85", alpha=0.6, zorder=0)
    ax.set_xscale("log", base=2)
    _plain_ticks(ax, df["users"])
    ax.set_xlabel("simulated users (closed model: each waits for its response)")
    ax.set_ylabel("throughput (requests/s)")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _dedupe_legend(ax)
    _single_run_note(ax, df)
    return ax


def latency_vs_users(df: pd.DataFrame, ax=None, percentiles=("p50_ms", "p99_ms"),
                     hue: str = "variant", title: str = "Latency as offered users grow"):
    """Latency percentiles (of the measured window only) against simulated users."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    styles = {"p50_ms": "-", "p90_ms": "--", "p99_ms": ":"}
    for key, part in _groups(df, hue):
        s = _summary_with_limits(part, percentiles)
        for p in percentiles:
            label = p.replace("_ms", "") + (f" {key}" if key is not None else "")
            _errorbar(ax, s, "users", p, label, linestyle=styles.get(p, "-"))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _plain_ticks(ax, df["users"], log_y=True)
    ax.set_xlabel("simulated users (closed model)")
    ax.set_ylabel("response time (ms, log scale)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    _dedupe_legend(ax)
    _single_run_note(ax, df)
    return ax


def cpu_breakdown(df: pd.DataFrame, ax=None, by: str = "users",
                  title: str = "Server CPU per request, by component"):
    """Stacked bars of CPU-ms per request (app, db, cache, proxy), error bar on the total."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    comps = [c for c in COMPONENTS if f"cpu_ms_per_req_{c}" in df.columns
             and df[f"cpu_ms_per_req_{c}"].fillna(0).sum() > 0]
    g = df.groupby(by, sort=False)
    means = g[[f"cpu_ms_per_req_{c}" for c in comps]].mean()
    total = g["cpu_ms_per_req_server"]
    x = np.arange(len(means))
    bottom = np.zeros(len(means))
    for c in comps:
        v = means[f"cpu_ms_per_req_{c}"].to_numpy()
        ax.bar(x, v, bottom=bottom, color=COMPONENT_COLOURS[c], label=c, width=0.6)
        bottom += v
    tm, tmin, tmax = total.mean().to_numpy(), total.min().to_numpy(), total.max().to_numpy()
    if g.size().max() > 1:
        ax.errorbar(x, tm, yerr=np.vstack([tm - tmin, tmax - tm]), fmt="none", ecolor="k",
                    capsize=4, label="total: min-max over repeats")
    if by == "users":
        ax.set_xticks(x, [str(i) for i in means.index])
    else:
        ax.set_xticks(x, [str(i) for i in means.index], rotation=20, ha="right")
    ax.set_xlabel({"users": "simulated users"}.get(by, by))
    ax.set_ylabel("server CPU per request (ms)")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    _single_run_note(ax, df)
    return ax


def _dedupe_legend(ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    seen = {}
    for h, l in zip(handles, labels):
        if l and l != "None" and l not in seen:
            seen[l] = h
    if seen:
        ax.legend(seen.values(), seen.keys(), fontsize=8)


def repeat_spread(df: pd.DataFrame, metrics=("req_s", "cpu_ms_per_req_server"),
                  labels=None, title: str = "The same point, measured again"):
    """One dot per repeat for each metric, the mean as a line and the CV in the title."""
    labels = labels or {"req_s": "throughput (requests/s)",
                        "cpu_ms_per_req_server": "server CPU per request (ms)",
                        "p99_ms": "p99 latency (ms)", "p50_ms": "p50 latency (ms)"}
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.4))
    axes = np.atleast_1d(axes)
    for ax, m in zip(axes, metrics):
        v = df[m].to_numpy(dtype=float)
        ax.plot(np.arange(1, len(v) + 1), v, "o", ms=8)
        ax.axhline(v.mean(), color="0.5", lw=1, ls="--", label="mean")
        cv = v.std(ddof=1) / v.mean() if len(v) > 1 and v.mean() else float("nan")
        ax.set_title(f"CV {cv:.1%}" if cv == cv else "one run", fontsize=10)
        ax.set_xlabel("repeat")
        ax.set_xticks(np.arange(1, len(v) + 1))
        ax.set_ylabel(labels.get(m, m))
        ax.set_ylim(0, max(v.max() * 1.2, 1e-9))
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def bars(df: pd.DataFrame, metric: str, by: str = "variant", ax=None, ylabel: str = "",
         title: str = "", log: bool = False):
    """One bar per group (in first-seen order): mean, min-max error bars, saturated hatched."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    order = list(dict.fromkeys(df[by]))
    g = df.groupby(by, sort=False)[metric]
    mean, lo, hi = g.mean()[order], g.min()[order], g.max()[order]
    x = np.arange(len(order))
    limits = _limits_by(df, by).reindex(order)
    colours = {"server": "#1f77b4", "generator": "#d62728", "unexplained": "0.6",
               "failures": "black", "rate": "#2ca02c", "one user": "0.6"}
    ax.bar(x, mean, color=[colours[lim] for lim in limits], width=0.6)
    for xi, lim in zip(x, limits):
        if lim != "server":
            ax.bar(xi, mean.iloc[xi], color="none", edgecolor="white", hatch="//", width=0.6)
    if g.size().max() > 1:
        ax.errorbar(x, mean, yerr=np.vstack([mean - lo, hi - mean]), fmt="none", ecolor="k",
                    capsize=4)
    ax.set_xticks(x, order, rotation=20, ha="right")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel or metric)
    flagged = sorted(set(limits) - {"server"})
    ax.set_title(title + ("\n(hatched: not server-bound; " + "; ".join(
        f"{dict(generator='red', unexplained='grey', failures='black')[lim]}: {lim}"
        for lim in flagged) + ")" if flagged else ""), fontsize=10 if flagged else None)
    ax.grid(alpha=0.3, axis="y")
    _single_run_note(ax, df)
    return ax


def cache_gain_vs_miss_share(df: pd.DataFrame, baseline: str = "uncached", ax=None,
                             hit_ratio: str = "redis_hit_ratio",
                             title: str = "Capacity gain of a cache against its miss share"):
    """Each cached variant's gain (baseline ÷ its server CPU per request, within its repeat)
    against its miss share, with the bound 1 ÷ miss share (hits free, misses full price)."""
    ax = ax or plt.subplots(figsize=(6.5, 4))[1]
    base = df[df.variant == baseline].groupby("repeat")["cpu_ms_per_req_server"].mean()
    cached = df[df.variant != baseline].copy()
    cached["gain"] = base.reindex(cached["repeat"]).values / cached["cpu_ms_per_req_server"]
    cached["miss"] = 1 - cached[hit_ratio]
    for name, part in cached.groupby("variant", sort=False):
        flagged = part.get("limit", pd.Series("server", index=part.index)) != "server"
        ax.plot(part.miss[~flagged] * 100, part.gain[~flagged], "o", ms=8, label=name)
        if flagged.any():
            ax.plot(part.miss[flagged] * 100, part.gain[flagged], "o", ms=8, mfc="none",
                    color="0.45", label=f"{name} (not server-bound)")
    m = np.linspace(max(0.02, cached["miss"].min() * 0.5 if len(cached) else 0.02), 1, 100)
    ax.plot(m * 100, 1 / m, "--", color="0.3", label="bound: 1 ÷ miss share")
    ax.axhline(1, color="0.6", lw=0.8)
    ax.set_xlabel("miss share in the window (%)")
    ax.set_ylabel("capacity gain over uncached (×)")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, max(4, float(cached["gain"].max()) * 1.3 if len(cached) else 4))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _single_run_note(ax, df)
    return ax


def operation_costs(per_op: pd.DataFrame, order=None, ax=None,
                    title: str = "Cost of one cache hit and one miss (server-bound points)"):
    """Grouped bars of µs of server CPU per cache operation (``caching.cost_per_operation``),
    error bars from the extremes of probe and baseline; a backend without a server-bound
    point is labelled 'not costed' instead of drawn."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    order = list(order or dict.fromkeys(per_op.backend))
    x = np.arange(len(order))
    for i, (op, colour) in enumerate([("hit", "#1f77b4"), ("miss", "#ff7f0e")]):
        part = per_op[per_op.operation == op].set_index("backend").reindex(order)
        mean = part["us_per_op"]
        err = np.vstack([(mean - part["us_per_op_min"]).clip(lower=0),
                         (part["us_per_op_max"] - mean).clip(lower=0)])
        xs = x + (i - 0.5) * 0.38
        ax.bar(xs, mean.fillna(0), width=0.38, color=colour, label=op)
        ax.errorbar(xs, mean, yerr=np.nan_to_num(err), fmt="none", ecolor="k", capsize=3)
        for xi, v in zip(xs, mean):
            if math.isnan(v):
                ax.annotate("not\ncosted", (xi, 0), ha="center", va="bottom", fontsize=7,
                            color="0.4")
    ax.set_xticks(x, order)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_ylabel("server CPU per cache operation (µs)")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    return ax


# --- the primer's simulated queues (no server) ----------------------------------------------
def closed_queue(df: pd.DataFrame, knee_users: float, axes=None):
    """Throughput and response time of a simulated closed load against users, with the two
    bounds (no queueing, the server's capacity) and the knee N* where they meet."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 4))
    a1, a2 = axes
    a1.plot(df.users, df.X_req_s, "o-", label="simulated")
    a1.plot(df.users, df.X_no_queue, ":", color="0.4", label="N / (D + Z): no queueing")
    a1.axhline(df.X_capacity.iloc[0], ls="--", color="0.4", label="1 / D: the server's capacity")
    a2.plot(df.users, df.R_ms, "o-", label="mean response time")
    a2.plot(df.users, df.R_p99_ms, "s-", alpha=0.6, label="p99 response time")
    a2.plot(df.users, df.R_past_knee_ms, "--", color="0.4", label="N·D − Z: past the knee")
    for ax in axes:
        ax.axvline(knee_users, color="#d62728", alpha=0.5, label=f"knee N* = {knee_users:.0f}")
        ax.set_xlabel("users (closed load)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    a1.set_ylabel("throughput (requests/s)")
    a1.set_ylim(0, df.X_capacity.iloc[0] * 1.3)
    a1.set_title("Throughput rises, then meets the capacity")
    a2.set_ylabel("response time (ms)")
    a2.set_title("Response time is flat, then grows by D per user")
    return axes


def open_latency(runs: dict[str, pd.DataFrame], ax=None):
    """Response time of each request against its arrival time, one line per offered rate."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for label, df in runs.items():
        ax.plot(df.arrival_ms / 1000, df.R_ms, lw=0.8, label=label)
    ax.set_yscale("log")
    ax.set_ylim(bottom=1)
    ax.set_xlabel("time the request arrived (s)")
    ax.set_ylabel("response time (ms, log scale)")
    ax.set_title("Open load: below capacity latency holds, above it grows without bound")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def usl_shapes(curves: dict[str, tuple[float, float]], n_max: int = 64, ax=None):
    """Relative capacity X(N) / X(1) of the Universal Scalability Law for (sigma, kappa) pairs."""
    from scalelab.verdicts.usl import usl

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    n = np.arange(1, n_max + 1)
    ax.plot(n, n, ":", color="0.5", label="linear (σ = 0, κ = 0)")
    for label, (sigma, kappa) in curves.items():
        ax.plot(n, usl(n, 1.0, sigma, kappa), label=f"{label} (σ = {sigma}, κ = {kappa})")
    ax.set_xlabel("N (workers, nodes or users)")
    ax.set_ylabel("relative capacity X(N) / X(1)")
    ax.set_ylim(0, min(n_max, 30))
    ax.set_title("Universal Scalability Law: contention (σ) flattens, coherency (κ) bends back")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def grouped_bars(df: pd.DataFrame, metric: str, group: str = "variant", by: str = "config",
                 ax=None, ylabel: str = "", title: str = "", log: bool = False):
    """Bars of ``metric`` for each ``group`` (x), one per ``by`` (colour): mean over repeats,
    min-max error bars; a bar hatched when a point behind it was not server-bound (a visitor's
    timings, ``one user``, are not load points and are never hatched)."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    groups, keys = list(dict.fromkeys(df[group])), list(dict.fromkeys(df[by]))
    width = 0.8 / len(keys)
    flagged_any = set()
    for i, key in enumerate(keys):
        part = df[df[by] == key]
        g = part.groupby(group, sort=False)[metric]
        mean, lo, hi = (s.reindex(groups) for s in (g.mean(), g.min(), g.max()))
        x = np.arange(len(groups)) + (i - (len(keys) - 1) / 2) * width
        ax.bar(x, mean, width=width * 0.95, color=_PALETTE[i % len(_PALETTE)], label=str(key))
        limits = _limits_by(part, group).reindex(groups)
        for xi, m, lim in zip(x, mean, limits):
            if isinstance(lim, str) and lim in LIMIT_STYLE:
                ax.bar(xi, m, width=width * 0.95, color="none", edgecolor="white", hatch="//")
                flagged_any.add(lim)
        if g.size().max() > 1:
            ax.errorbar(x, mean, yerr=np.vstack([mean - lo, hi - mean]), fmt="none",
                        ecolor="k", capsize=3)
    ax.set_xticks(np.arange(len(groups)), groups)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title + ("\n(hatched: " + "; ".join(LIMIT_STYLE[lim][1] for lim in
                                                     sorted(flagged_any)) + ")"
                          if flagged_any else ""), fontsize=10 if flagged_any else None)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    _single_run_note(ax, df)
    return ax


def page_load_times(loads: pd.DataFrame, ax=None):
    """A visitor's page-load time against the link's speed (log scale), one line per kind of
    visit: mean over repeats, min-max error bars."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    part = loads[loads.link_mbit_s > 0]
    for i, (variant, rows) in enumerate(part.groupby("variant", sort=False)):
        g = rows.groupby("link_mbit_s")["page_load_ms"]
        mean, lo, hi = g.mean(), g.min(), g.max()
        ax.errorbar(mean.index, mean, yerr=np.vstack([mean - lo, hi - mean]), marker="o",
                    capsize=3, color=_PALETTE[i % len(_PALETTE)], label=variant)
    _link_axis(ax, part.link_mbit_s)
    ax.set_yscale("log")
    ax.set_ylabel("page-load time (ms, log scale)")
    rtt = loads["rtt_ms"].iloc[0] if "rtt_ms" in loads else 0
    ax.set_title(f"One visitor's page load (round trip {rtt:g} ms)")
    ax.legend(fontsize=8)
    _single_run_note(ax, loads)
    return ax


def wire_against_backend(savings: pd.DataFrame, almost: float = 0.75, ax=None):
    """What compression and the assets' lifetimes save a visitor at each link speed, against
    the backend time the page cache saves (and the share of it the C7 rule asks for)."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for i, (col, label) in enumerate((("compression_saving_ms", "compression (first visit)"),
                                      ("lifetime_saving_ms", "lifetimes (repeat visit)"))):
        g = savings.groupby("link_mbit_s")[col]
        mean, lo, hi = g.mean(), g.min(), g.max()
        ax.errorbar(mean.index, mean, yerr=np.vstack([mean - lo, hi - mean]), marker="o",
                    capsize=3, color=_PALETTE[i], label=f"the wire: {label}")
    back = savings.groupby("repeat")["backend_saving_ms"].first()
    ax.axhspan(back.min(), back.max(), color="0.85")
    ax.axhline(back.mean(), color="k", label="the backend: the page cache")
    ax.axhline(almost * back.mean(), color="k", ls="--", lw=1,
               label=f"{almost:.0%} of the backend's saving (the C7 rule)")
    _link_axis(ax, savings.link_mbit_s)
    ax.set_yscale("log")
    ax.set_ylabel("time saved per page view (ms, log scale)")
    ax.set_title("What the wire saves, against what the backend's cache saves")
    ax.legend(fontsize=8)
    _single_run_note(ax, savings)
    return ax


def _link_axis(ax, links) -> None:
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    ax.set_xticks(sorted(set(float(v) for v in links)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("the visitor's link (Mbit/s, log scale)")
    ax.grid(alpha=0.3)


def projection(tables: dict[str, pd.DataFrame], ax=None):
    """Projected requests/s against app machines (log-log), one line per page, with the
    linear line each would follow if nothing shared capped it."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for i, (name, t) in enumerate(tables.items()):
        colour = _PALETTE[i % len(_PALETTE)]
        ax.plot(t.machines, t.req_s, "o-", color=colour, label=f"{name}: projected")
        ax.plot(t.machines, t.req_s.iloc[0] * t.machines / t.machines.iloc[0], ":",
                color=colour, alpha=0.7, label=f"{name}: linear")
        capped = t[t.limited_by != "app machines"]
        if len(capped):
            first = capped.iloc[0]
            ax.annotate(f"capped by {first.limited_by}", (first.machines, first.req_s),
                        textcoords="offset points", xytext=(-10, 10), fontsize=8,
                        color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    machines = sorted({int(m) for t in tables.values() for m in t.machines})
    _plain_ticks(ax, machines)
    ax.set_xlabel("app machines (each with this machine's server CPUs)")
    ax.set_ylabel("requests/s (log scale)")
    ax.set_title("Projected from CPU per request by component")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def crash_timeline(rows: pd.DataFrame, ax=None):
    """Requests answered and failed per second through a crash of one app server (killed at
    the first dashed line, started again at the second)."""
    return failure_timeline(rows, ("get_ok", "post_ok"), ("get_failed", "post_failed"),
                            {"crashed_at_s": "killed", "restored_at_s": "back"},
                            "One app server killed under load, then started again", ax)


def failure_timeline(rows: pd.DataFrame, ok: Sequence[str], failed: Sequence[str],
                     events: dict[str, str], title: str, ax=None):
    """Requests answered (sum of the ``ok`` columns) and failed per second, with a dashed
    line at each event (a column holding its time in seconds, and its label)."""
    ax = ax or plt.subplots(figsize=(8, 3.8))[1]
    answered = rows[list(ok)].sum(axis=1)
    lost = rows[list(failed)].sum(axis=1)
    ax.bar(rows.second + 0.5, answered, width=0.9, color=_PALETTE[0], label="answered")
    ax.bar(rows.second + 0.5, lost, bottom=answered, width=0.9, color="#d62728",
           label="failed")
    top = (answered + lost).max()
    for col, text in events.items():
        if col in rows and rows[col].notna().any():
            x = float(rows[col].iloc[0])
            ax.axvline(x, color="k", ls="--", lw=1)
            ax.annotate(text, (x, top * 1.02), fontsize=8, ha="left")
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("requests per second")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="lower left")
    return ax


def lag_vs_writes(summary: pd.DataFrame, ax=None):
    """The replica's lag (median and p90, ms) against the write rate, one point per number
    of writers."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    s = summary.sort_values("writes_s")
    ax.plot(s.writes_s, s.lag_ms_p50, "o-", color=_PALETTE[0], label="median")
    ax.plot(s.writes_s, s.lag_ms_p90, "s--", color=_PALETTE[1], label="p90")
    for _, r in s.iterrows():
        ax.annotate(f"{int(r.name)} writers", (r.writes_s, r.lag_ms_p90), fontsize=7,
                    textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("votes per second (writes on the primary)")
    ax.set_ylabel("replication lag (ms, replay_lag)")
    ax.set_title("How far the replica trails the primary")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def cost_by_table_size(rows: pd.DataFrame, ax=None, metric: str = "cpu_ms_per_req_server",
                       ylabel: str = "server CPU per request (ms)"):
    """``metric`` against the table's size (questions, log-log), one line per page and index
    state: mean over repeats, min-max error bars; a circled point was not server-bound."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for i, ((page, state), part) in enumerate(rows.groupby(["page", "index"], sort=False)):
        g = part.groupby("questions")
        s = pd.DataFrame({metric: g[metric].mean(), f"{metric}_min": g[metric].min(),
                          f"{metric}_max": g[metric].max()}).reset_index()
        s["limit"] = _limits_by(part, "questions").reindex(s["questions"]).values
        _errorbar(ax, s, "questions", metric, f"{page} page, {state}",
                  color=_PALETTE[i % len(_PALETTE)],
                  linestyle="-" if part.index_present.iloc[0] else "--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    sizes = sorted(rows.questions.unique())
    ax.set_xticks(sizes, [f"{q:,}" for q in sizes])
    ax.minorticks_off()
    ax.set_xlabel("questions in the table")
    ax.set_ylabel(ylabel)
    ax.set_title("What a page costs as its table grows, with and without the index")
    ax.grid(alpha=0.3, which="both")
    _dedupe_legend(ax)
    _single_run_note(ax, rows)
    return ax


def flame_graph(profile, ax=None, title: str = "", min_share: float = 0.01, max_depth: int = 200):
    """A flame graph of a :class:`scalelab.measurement.profiler.Profile`: each frame a bar as wide as the
    share of samples with it on the stack, its callers below it; frames under ``min_share``
    are not drawn, labels only where they fit. Colour by layer (``profiler.LAYERS``)."""
    from scalelab.measurement.profiler import LAYERS, OTHER, layer_of

    deepest = max((len(f) for f in profile.stacks.frames), default=1)
    ax = ax or plt.subplots(figsize=(13, max(6.0, min(deepest, max_depth) * 0.16)))[1]
    total = profile.samples or 1
    colours = {name: _PALETTE[i % len(_PALETTE)] for i, (name, _) in enumerate(LAYERS)}
    colours[OTHER] = "#bbbbbb"
    # the tree of stacks: (path of frames) -> samples, children laid out left to right by name
    counts: dict[tuple, int] = {}
    for frames, n in zip(profile.stacks.frames, profile.stacks.samples):
        for depth in range(1, min(len(frames), max_depth) + 1):
            counts[frames[:depth]] = counts.get(frames[:depth], 0) + int(n)
    children: dict[tuple, list] = {}
    for path in counts:
        children.setdefault(path[:-1], []).append(path)
    drawn = set()

    def draw(path: tuple, x: float) -> None:
        width = counts[path] / total
        if width < min_share:
            return
        depth = len(path) - 1
        frame = path[-1]
        layer = layer_of([frame])
        ax.barh(depth, width, left=x, height=0.9, color=colours[layer], edgecolor="white",
                linewidth=0.5, label=layer if layer not in drawn else None)
        drawn.add(layer)
        name = frame.split(" (")[0]
        if width > 0.06:
            ax.text(x + 0.003, depth, name[: int(width * 120)], va="center", fontsize=7)
        offset = x
        for child in sorted(children.get(path, []), key=lambda p: p[-1]):
            draw(child, offset)
            offset += counts[child] / total

    x = 0.0
    for root in sorted(children.get((), []), key=lambda p: p[-1]):
        draw(root, x)
        x += counts[root] / total
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"share of samples ({total:,} samples, {profile.rate} a second)")
    ax.set_ylabel("stack depth")
    ax.set_title(title or "Flame graph")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3)
    return ax


def cores_vs_think(curve: pd.DataFrame, think_range: tuple[float, float] = (7, 60),
                   line: float = 30, ax=None):
    """Cores needed (log scale) against the seconds between a user's page views, one line
    per configuration (median cost, min-max band over the cost's repeats); the plausible
    range of think times shaded, and a horizontal line at ``line`` cores (the thread's 30
    servers, counted as one core each)."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for i, (config, part) in enumerate(curve.groupby("config", sort=False)):
        colour = _PALETTE[i % len(_PALETTE)]
        ax.plot(part.think_s, part.cores, "o-", color=colour, label=config, ms=3)
        ax.fill_between(part.think_s, part.cores_min, part.cores_max, color=colour, alpha=0.2)
    ax.axvspan(*think_range, color="0.9", zorder=0,
               label=f"a page every {think_range[0]:g} to {think_range[1]:g} s")
    ax.axhline(line, color="black", lw=1, ls="--", label=f"the thread's {line:g} servers")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("seconds between a user's page views (think time)")
    ax.set_ylabel("cores busy 70% at the peak")
    ax.set_title("Cores for 20,000 concurrent users")
    _plain_log(ax)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax


def predicted_vs_measured(pred: pd.DataFrame, axes=None):
    """The check run: per open point (by offered rate), the server CPUs' utilisation the
    model predicted, the one this run's saturated point predicts, and the one measured
    (left); the mean response time measured against M/M/1 and M/D/1 (right)."""
    axes = axes if axes is not None else plt.subplots(1, 2, figsize=(11, 4))[1]
    g = pred.groupby("offered req/s")
    x = np.array(sorted(pred["offered req/s"].unique()))
    for i, (col, style) in enumerate((("U predicted (model)", "s--"),
                                      ("U predicted (this run)", "^--"),
                                      ("U measured", "o-"))):
        mean, lo, hi = g[col].mean().reindex(x), g[col].min().reindex(x), g[col].max().reindex(x)
        axes[0].errorbar(x, mean, yerr=[(mean - lo).clip(lower=0), (hi - mean).clip(lower=0)],
                         fmt=style, capsize=3, color=_PALETTE[i], label=col)
    axes[0].set_xlabel("offered rate (requests/s, open Poisson arrivals)")
    axes[0].set_ylabel("server CPU busy (share of one core)")
    axes[0].set_ylim(0, 1.05)
    axes[0].set_title("Utilisation: predicted and measured")
    for i, (col, style) in enumerate((("R M/D/1 (ms)", "^--"), ("R M/M/1 (ms)", "s--"),
                                      ("R M/M/1, measured U (ms)", "d:"),
                                      ("R measured (ms)", "o-"))):
        vals = g[col].mean().reindex(x).replace(np.inf, np.nan)
        lo, hi = g[col].min().reindex(x), g[col].max().reindex(x)
        axes[1].errorbar(x, vals, yerr=[(vals - lo).clip(lower=0), (hi - vals).clip(lower=0)],
                         fmt=style, capsize=3, color=_PALETTE[i + 3], label=col[:-5])
    axes[1].set_xlabel("offered rate (requests/s, open Poisson arrivals)")
    axes[1].set_ylabel("mean response time (ms)")
    axes[1].set_yscale("log")
    axes[1].set_title("Response time: queueing models and measured")
    _plain_log(axes[1], "y")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    _single_run_note(axes[0], pred)
    return axes
