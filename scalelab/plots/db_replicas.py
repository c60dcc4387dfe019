"""The database-replicas notebook's own figures (06): how far the replica trails the primary as
the write rate grows, and reads against replicas in the scale model."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scalelab.plots.replicas import measured_spread
from scalelab.plots.standard import _PALETTE, _finish


def lag_vs_writes(summary: pd.DataFrame, ax=None):
    """The replica's lag (median and p90, ms) against the write rate measured, one point per
    rate asked (``lag_summary``'s rows)."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    s = summary.sort_values("writes_s")
    ax.plot(s.writes_s, s.lag_ms_p50, "o-", color=_PALETTE[0], label="median")
    ax.plot(s.writes_s, s.lag_ms_p90, "s--", color=_PALETTE[1], label="p90")
    last = len(s) - 1
    # rates close together: each label slanted up from its point, so neighbours do not
    # overlap; the rightmost one flat, to the left of its point
    for i, (_, r) in enumerate(s.iterrows()):
        ax.annotate(str(r.name), (r.writes_s, r.lag_ms_p90), fontsize=7,
                    textcoords="offset points", xytext=(-4, 4) if i == last else (3, 5),
                    ha="right" if i == last else "left", rotation=0 if i == last else 40,
                    rotation_mode="anchor")
    ax.margins(y=0.3)
    ax.set_ylim(bottom=0)
    _finish(ax, "votes per second (writes on the primary)", "replication lag (ms, replay_lag)",
            "How far the replica trails the primary",
            loc="upper left")  # the labels are low on the left, high on the right
    return ax


def read_scale_out(rows: pd.DataFrame, projected: pd.DataFrame | None = None, ax=None):
    """Reads/s against read replicas in the scale model (median over repeats, bars from the
    lowest to the highest), one line per share of writes, with the line of k replicas each
    serving what the primary alone did; ``projected`` (``project_reads``' table, scaled to
    the measured point without replicas) drawn as the prediction the measurement checks. A
    ringed point was not host-bound."""
    ax = ax or plt.subplots(figsize=(7, 4.2))[1]
    for i, (share, part) in enumerate(rows.groupby("write_share", sort=True)):
        colour = _PALETTE[i % len(_PALETTE)]
        s = measured_spread(ax, part, "replicas", "reads_s", colour,
                            f"{share:.0%} writes: measured")
        x = s.index.to_numpy(dtype=float)
        if 0 in s.index:
            ax.plot(x, s["median"].loc[0] * np.maximum(x, 1), ":", color=colour, alpha=0.7,
                    label=f"{share:.0%} writes: each replica what the primary alone served")
        if projected is not None and len(projected) and 0 in s.index and i == 0:
            t = projected[projected.replicas.isin(s.index)]
            ax.plot(t.replicas, t.gain * s["median"].loc[0], "x--", color="grey", alpha=0.7,
                    label="projected from one machine's CPU per read (utilisation law)")
    ax.set_xticks(sorted({int(n) for n in rows.replicas}))
    ax.set_ylim(bottom=0)
    # six lines: inside the frame their legend hid the whiskers of the middle counts
    return _finish(ax, "read replicas (each a host of its own; 0: the primary alone)",
                   "reads per second", "Read capacity measured in the scale model",
                   loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2, fontsize=7)
