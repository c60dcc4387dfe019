"""The lab's standard charts, shared by several notebooks: units, error bars (min-max over
repeats), limit markers, and the helpers the notebooks' own figures share.

Every chart marks points where the load generator was saturated (hollow red markers: their
req/s says more about Locust than about Django) and says when it shows a single run. Each
notebook's own figures are in the module named like its experiment module.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scalelab.verdicts.analysis import summarize
from scalelab.measurement.point import COMPONENTS
from scalelab.measurement.limits import worst_limit

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
COMPONENT_COLOURS = dict(zip(COMPONENTS, _PALETTE))  # a new component gets the next colour


def over_repeats(g) -> tuple:
    """What a chart draws of repeats (a grouped column, or one column): the median (the
    estimator the verdicts quote), and the least and the most (the whiskers)."""
    return g.median(), g.min(), g.max()


def _single_run_note(ax, df: pd.DataFrame) -> None:
    """Say under the title when a chart shows one run (no error bars to show)."""
    if "repeat" in df.columns and df["repeat"].nunique() <= 1:
        ax.set_title(ax.get_title() + "\n(one repeat: no spread to show)", fontsize=10)


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
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:,.10g}")
    for name in axes:
        axis = ax.xaxis if name == "x" else ax.yaxis
        # 1, 2 and 5 of each decade: an axis spanning less than a decade still has numbers
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
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
    """Per users step: each metric's median over repeats (``summarize`` gives their mean), its
    least and most, and the worst limit."""
    s = summarize(part, metrics=metrics, by=("users",))
    for m in metrics:
        if m in s.columns:
            s[m] = part.groupby("users")[m].median().reindex(s["users"]).values
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
    # a band above the tallest bar for the legend, in one row: it covers no bar, and no
    # neighbouring chart of the same figure
    ax.margins(y=0.3)  # kept on a log scale too (autoscaled again there)
    ax.legend(fontsize=8, loc="upper right", ncol=len(comps) + 1, columnspacing=1.0)
    _single_run_note(ax, df)
    return ax


def _dedupe_legend(ax, **legend) -> None:
    """One legend entry a label (the first), with ``legend``'s placement."""
    handles, labels = ax.get_legend_handles_labels()
    seen = {}
    for h, l in zip(handles, labels):
        if l and l != "None" and l not in seen:
            seen[l] = h
    if seen:
        ax.legend(seen.values(), seen.keys(), **{"fontsize": 8, **legend})


def _finish(ax, xlabel: str, ylabel: str, title: str, **legend):
    """How most charts end: both axes labelled, the title, a light grid, a small legend of
    one entry a label, with ``legend``'s placement (``_dedupe_legend``)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _dedupe_legend(ax, **legend)
    return ax


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
    """One bar per group (in first-seen order): the median over repeats, min-max error bars,
    a point that was not server-bound hatched."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    order = list(dict.fromkeys(df[by]))
    g = df.groupby(by, sort=False)[metric]
    mid, lo, hi = (s[order] for s in over_repeats(g))
    x = np.arange(len(order))
    limits = _limits_by(df, by).reindex(order)
    colours = {"server": "#1f77b4", "generator": "#d62728", "unexplained": "0.6",
               "failures": "black", "rate": "#2ca02c", "one user": "0.6"}
    ax.bar(x, mid, color=[colours[lim] for lim in limits], width=0.6)
    for xi, lim in zip(x, limits):
        if lim != "server":
            ax.bar(xi, mid.iloc[xi], color="none", edgecolor="white", hatch="//", width=0.6)
    if g.size().max() > 1:
        ax.errorbar(x, mid, yerr=np.vstack([mid - lo, hi - mid]), fmt="none", ecolor="k",
                    capsize=4)
    # many names side by side (03's nine servers): steeper, each ending under its own bar
    ax.set_xticks(x, order, rotation=20 if len(order) <= 6 else 40, ha="right",
                  rotation_mode="anchor")
    if log:
        ax.set_yscale("log")
        _plain_log(ax, "y")
    ax.set_ylabel(ylabel or metric)
    flagged = sorted(set(limits) - {"server"})
    ax.set_title(title + ("\n(hatched: not server-bound; " + "; ".join(
        f"{dict(generator='red', unexplained='grey', failures='black')[lim]}: {lim}"
        for lim in flagged) + ")" if flagged else ""), fontsize=10 if flagged else None)
    ax.grid(alpha=0.3, axis="y")
    _single_run_note(ax, df)
    return ax


def grouped_bars(df: pd.DataFrame, metric: str, group: str = "variant", by: str = "config",
                 ax=None, ylabel: str = "", title: str = "", log: bool = False):
    """Bars of ``metric`` for each ``group`` (x), one per ``by`` (colour): median over repeats,
    min-max error bars; a bar hatched when a point behind it was not server-bound (a visitor's
    timings, ``one user``, are not load points and are never hatched)."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    groups, keys = list(dict.fromkeys(df[group])), list(dict.fromkeys(df[by]))
    width = 0.8 / len(keys)
    flagged_any = set()
    for i, key in enumerate(keys):
        part = df[df[by] == key]
        g = part.groupby(group, sort=False)[metric]
        mid, lo, hi = (s.reindex(groups) for s in over_repeats(g))
        x = np.arange(len(groups)) + (i - (len(keys) - 1) / 2) * width
        ax.bar(x, mid, width=width * 0.95, color=_PALETTE[i % len(_PALETTE)], label=str(key))
        limits = _limits_by(part, group).reindex(groups)
        for xi, m, lim in zip(x, mid, limits):
            if isinstance(lim, str) and lim in LIMIT_STYLE:
                ax.bar(xi, m, width=width * 0.95, color="none", edgecolor="white", hatch="//")
                flagged_any.add(lim)
        if g.size().max() > 1:
            ax.errorbar(x, mid, yerr=np.vstack([mid - lo, hi - mid]), fmt="none",
                        ecolor="k", capsize=3)
    ax.set_xticks(np.arange(len(groups)), groups)
    if log:
        ax.set_yscale("log")
        _plain_log(ax, "y")
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title + ("\n(hatched: " + "; ".join(LIMIT_STYLE[lim][1] for lim in
                                                     sorted(flagged_any)) + ")"
                          if flagged_any else ""), fontsize=10 if flagged_any else None)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    _single_run_note(ax, df)
    return ax


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
    ax.set_ylim(0, top * 1.15)  # room above the bars for the events' labels
    for col, text in events.items():
        if col in rows and rows[col].notna().any():
            x = float(rows[col].iloc[0])
            ax.axvline(x, color="k", ls="--", lw=1)
            ax.annotate(" " + text, (x, top * 1.05), fontsize=8, ha="left")
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("requests per second")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside, not on, the bars
    return ax


def _thin_marks(ax, x, y, rows: pd.DataFrame, q: float = 99, colour: str = "0.2") -> None:
    """Hollow circles around percentiles resting on fewer than ``percentiles.MIN_BEYOND``
    requests beyond them (``percentiles.thin``)."""
    from scalelab.measurement import percentiles

    few = percentiles.thin(rows, q).to_numpy()
    if few.any():
        ax.scatter(np.asarray(x)[few], np.asarray(y)[few], s=150, facecolors="none",
                   edgecolors=colour, linewidths=1.2, linestyle=":", zorder=6,
                   label=f"p{q:g} of a window with under {percentiles.needed(q):,} requests: "
                         f"the slowest few")


def latency_closed_and_open(closed: pd.DataFrame, opened: pd.DataFrame, capacity=None,
                            ax=None, title: str = "Latency against load, closed and open"):
    """p50 and p99 against requests/s: the closed sweep at the throughput each user count
    reached (Locust), the open load at its offered rate (Poisson arrivals); every window
    a point, the thin p99s circled; ``capacity`` (an ``analysis.Capacity``) as a line."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for rows, key, x, colour, name in (
            (closed, "users", "req_s", "#1f77b4", "closed (Locust users), at the throughput "
             "reached"),
            (opened, "offered_rate", "offered_rate", "#d62728", "open (Poisson arrivals), at "
             "the offered rate")):
        for p, style in (("p50_ms", "-"), ("p99_ms", ":")):
            med = rows.groupby(key).agg(x=(x, "median"), y=(p, "median")).sort_values("x")
            ax.plot(med.x, med.y, style, color=colour, lw=1.2)
            ax.scatter(rows[x], rows[p], color=colour, s=18,
                       marker="o" if p == "p50_ms" else "^",
                       label=f"{p.replace('_ms', '')}, {name}")
        _thin_marks(ax, rows[x], rows["p99_ms"], rows)
    if capacity is not None and capacity.req_s == capacity.req_s:
        ax.axvline(capacity.req_s, color="0.3", ls="--", lw=1.2,
                   label="capacity from CPU cost (utilisation law)")
    ax.set_yscale("log")
    _plain_log(ax, "y")
    _finish(ax, "requests/s (closed: served; open: offered)",
            "response time (ms, log scale)", title,
            loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below
    _single_run_note(ax, closed)
    return ax


def latency_bars(rows: pd.DataFrame, by: str = "variant", ax=None, q: float = 99,
                 title: str = "Latency at one offered rate"):
    """p50 and the q-th percentile of each ``by`` (median over repeats, whiskers from the
    lowest to the highest repeat), each named with the fewest latencies a window of it held
    (n≥, under its name); a thin percentile (``percentiles.thin``) is hatched."""
    from scalelab.measurement import percentiles

    ax = ax or plt.subplots(figsize=(7, 4))[1]
    col = f"p{q:g}_ms"
    rows = rows.assign(_n=percentiles.samples(rows), _thin=percentiles.thin(rows, q))
    g = rows.groupby(by, sort=False)
    s = g.agg(p50=("p50_ms", "median"), upper=(col, "median"), lo=(col, "min"),
              hi=(col, "max"), n=("_n", "min"), thin=("_thin", "any"))
    x = np.arange(len(s))
    ax.bar(x - 0.2, s.p50, 0.4, color="#1f77b4", label="p50")
    bars = ax.bar(x + 0.2, s.upper, 0.4, color="#d62728", label=f"p{q:g}",
                  yerr=np.vstack([s.upper - s.lo, s.hi - s.upper]), capsize=3)
    for bar, few in zip(bars, s.thin):
        if few:
            bar.set_hatch("//")
            bar.set_edgecolor("white")
    ax.set_xticks(x)
    # under each name, not on its bar, where a short bar's whisker would be covered
    ax.set_xticklabels([f"{name}\n(n≥{int(n):,})" for name, n in zip(s.index, s.n)],
                       rotation=20, ha="right")
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * (high / low) ** 0.25)  # a band above the whiskers for the legend
    _plain_log(ax, "y")
    _finish(ax, "", "response time (ms, log scale)", title)
    from matplotlib.patches import Patch

    # drawn apart: the p99 bars' own handle takes the first bar's hatch
    keys = [(Patch(facecolor="#1f77b4"), "p50"), (Patch(facecolor="#d62728"), f"p{q:g}")]
    if s.thin.any():
        keys.append((Patch(facecolor="#d62728", hatch="//", edgecolor="white"),
                     f"p{q:g} of under {percentiles.needed(q):,} requests: the slowest few"))
    ax.legend(*zip(*keys), fontsize=8, loc="upper left")  # over the shortest bars, the lowest rate
    _single_run_note(ax, rows)
    return ax
