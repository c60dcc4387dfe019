"""The app-replicas notebook's own figures (05): requests/s projected to N app machines, and
a crash of one app server under load."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from scalelab.plots.standard import _PALETTE, _finish, _plain_ticks, failure_timeline


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
    return _finish(ax, "app machines (each with this machine's server CPUs)",
                   "requests/s (log scale)", "Projected from CPU per request by component")


def crash_timeline(rows: pd.DataFrame, ax=None):
    """Requests answered and failed per second through a crash of one app server (killed at
    the first dashed line, started again at the second)."""
    return failure_timeline(rows, ("get_ok", "post_ok"), ("get_failed", "post_failed"),
                            {"crashed_at_s": "killed", "restored_at_s": "back"},
                            "One app server killed under load, then started again", ax)
