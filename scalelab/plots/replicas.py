"""The app-replicas notebook's own figures (05): requests/s measured against app hosts in the
scale model, beside the projection; requests/s projected to N app machines; a crash of one
app server under load."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scalelab.plots.standard import (LIMIT_STYLE, _PALETTE, _finish,
                                     _plain_ticks, failure_timeline)
from scalelab.measurement.limits import worst_limit


def measured_spread(ax, part: pd.DataFrame, x: str, y: str, colour, label: str) -> pd.DataFrame:
    """Draw ``y`` against ``x`` as measured in the scale model: the median over repeats, bars
    from the lowest to the highest, a ring on a point not host-bound. Returns the summary
    (median, low, high, limit) indexed by ``x``."""
    g = part.groupby(x)
    s = pd.DataFrame({"median": g[y].median(), "low": g[y].min(), "high": g[y].max(),
                      "limit": g["limit"].agg(worst_limit)})
    ax.errorbar(s.index.to_numpy(dtype=float), s["median"],
                yerr=np.vstack([s["median"] - s.low, s.high - s["median"]]),
                marker="o", capsize=3, color=colour, label=label)
    for lim, (edge, text) in LIMIT_STYLE.items():
        flagged = s[s["limit"] == lim]
        if len(flagged):
            ax.scatter(flagged.index, flagged["median"], s=130, facecolors="none",
                       edgecolors=edge, linewidths=1.6, zorder=5, label=text)
    return s


def scale_out(rows: pd.DataFrame, projected: dict[str, pd.DataFrame] | None = None, ax=None):
    """Measured requests/s against app hosts in the scale model (median over repeats, bars
    from the lowest to the highest), one line per page; the linear line from one host, and
    (``projected``: page -> ``projection.project`` table, scaled to the measured one-host
    point) the projection it is checked against. A ringed point was not host-bound."""
    ax = ax or plt.subplots(figsize=(7, 4.2))[1]
    for i, (variant, part) in enumerate(rows.groupby("variant", sort=False)):
        colour = _PALETTE[i % len(_PALETTE)]
        s = measured_spread(ax, part, "app_hosts", "req_s", colour, f"{variant}: measured")
        x = s.index.to_numpy(dtype=float)
        ax.plot(x, s["median"].iloc[0] * x / x[0], ":", color=colour, alpha=0.7,
                label=f"{variant}: linear from one host")
        table = (projected or {}).get(variant)
        if table is not None and len(table):
            t = table[table.machines.isin(s.index)]
            scaled = t.gain * s["median"].iloc[0]
            ax.plot(t.machines, scaled, "x--", color=colour, alpha=0.6,
                    label=f"{variant}: projected (utilisation law)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_ticks(ax, sorted({int(n) for n in rows.app_hosts}))
    return _finish(ax, "app hosts (each 1 app server in its own CPU quota)",
                   "requests/s (log scale)", "Scale-out measured in the scale model")


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
            # under the flat part, clear of the linear line above it and of the frame
            ax.annotate(f"capped by {first.limited_by}", (first.machines, first.req_s),
                        textcoords="offset points", xytext=(0, -8), ha="center", va="top",
                        fontsize=8, color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    machines = sorted({int(m) for t in tables.values() for m in t.machines})
    _plain_ticks(ax, machines)
    return _finish(ax, "app machines (each with this machine's server CPUs)",
                   "requests/s (log scale)", "Projected from CPU per request by component")


def crash_timeline(rows: pd.DataFrame, ax=None):
    """Requests answered and failed per second through a crash of one app server (killed at
    the first dashed line, started again at the second)."""
    return failure_timeline(rows, ("get_ok", "post_ok"), ("get_failed", "post_failed"),
                            {"crashed_at_s": "killed", "restored_at_s": "back"},
                            "One app server killed under load, then started again", ax)
