"""The caching notebook's own figures (02): the capacity a cache gains against its miss share,
and the server CPU one cache hit and one miss cost."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scalelab.plots.standard import _finish, _single_run_note


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
    ax.set_xlim(0, 100)
    ax.set_ylim(0, max(4, float(cached["gain"].max()) * 1.3 if len(cached) else 4))
    _finish(ax, "miss share in the window (%)", "capacity gain over uncached (×)", title)
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
