"""The database-replicas notebook's own figure (06): how far the replica trails the primary as
the write rate grows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from scalelab.plots.standard import _PALETTE, _finish


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
    ax.set_ylim(bottom=0)
    return _finish(ax, "votes per second (writes on the primary)",
                   "replication lag (ms, replay_lag)", "How far the replica trails the primary")
