"""The static-files notebook's own figures (04): a visitor's page-load time against the link's
speed, and what the wire saves against what the backend's cache saves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scalelab.plots.standard import _PALETTE, _plain_log, _single_run_note, over_repeats


def page_load_times(loads: pd.DataFrame, ax=None):
    """A visitor's page-load time against the link's speed (log scale), one line per kind of
    visit: median over repeats, min-max error bars."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    part = loads[loads.link_mbit_s > 0]
    for i, (variant, rows) in enumerate(part.groupby("variant", sort=False)):
        g = rows.groupby("link_mbit_s")["page_load_ms"]
        mid, lo, hi = over_repeats(g)
        ax.errorbar(mid.index, mid, yerr=np.vstack([mid - lo, hi - mid]), marker="o",
                    capsize=3, color=_PALETTE[i % len(_PALETTE)], label=variant)
    _link_axis(ax, part.link_mbit_s)
    ax.set_yscale("log")
    _plain_log(ax, "y")  # 20, 50, 100, 200: the lower lines readable
    ax.set_ylabel("page-load time (ms, log scale)")
    rtt = loads["rtt_ms"].iloc[0] if "rtt_ms" in loads else 0
    ax.set_title(f"One visitor's page load over an emulated link (round trip {rtt:g} ms)")
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
        mid, lo, hi = over_repeats(g)
        ax.errorbar(mid.index, mid, yerr=np.vstack([mid - lo, hi - mid]), marker="o",
                    capsize=3, color=_PALETTE[i], label=f"the wire: {label}")
    back = savings.groupby("repeat")["backend_saving_ms"].first()
    ax.axhspan(back.min(), back.max(), color="0.85")
    ax.axhline(back.median(), color="k", label="the backend: the page cache")
    ax.axhline(almost * back.median(), color="k", ls="--", lw=1,
               label=f"{almost:.0%} of the backend's saving (the C7 rule)")
    _link_axis(ax, savings.link_mbit_s)
    ax.set_yscale("log")
    _plain_log(ax, "y")  # 20, 50, 100, 200: the lower lines readable
    ax.set_ylabel("time saved per page view (ms, log scale)")
    ax.set_title("What the wire saves (emulated link), against what the backend's cache "
                 "saves (measured)")
    ax.legend(fontsize=8)
    _single_run_note(ax, savings)
    return ax


def _link_axis(ax, links) -> None:
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    ax.set_xticks(sorted(set(float(v) for v in links)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("the visitor's link, emulated (Mbit/s, log scale)")
    ax.grid(alpha=0.3)
