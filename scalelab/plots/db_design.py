"""The database-design notebook's own figure (07): what a page costs as its table grows, with
and without the index."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from scalelab.plots.standard import (_PALETTE, _dedupe_legend, _errorbar, _limits_by,
                                     _plain_log, _single_run_note, over_repeats)


def cost_by_table_size(rows: pd.DataFrame, ax=None, metric: str = "cpu_ms_per_req_server",
                       ylabel: str = "server CPU per request (ms, log scale)"):
    """``metric`` against the table's size (questions, log-log), one line per page and index
    state: median over repeats, min-max error bars; a circled point was not server-bound."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for i, ((page, state), part) in enumerate(rows.groupby(["page", "index"], sort=False)):
        g = part.groupby("questions")
        mid, lo, hi = over_repeats(g[metric])
        s = pd.DataFrame({metric: mid, f"{metric}_min": lo, f"{metric}_max": hi}).reset_index()
        s["limit"] = _limits_by(part, "questions").reindex(s["questions"]).values
        _errorbar(ax, s, "questions", metric, f"{page} page, {state}",
                  color=_PALETTE[i % len(_PALETTE)],
                  linestyle="-" if part.index_present.iloc[0] else "--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    sizes = sorted(rows.questions.unique())
    ax.set_xticks(sizes, [f"{q:,}" for q in sizes])
    ax.minorticks_off()
    _plain_log(ax, "y")
    ax.set_xlabel("questions in the table (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title("What a page costs as its table grows, with and without the index")
    ax.grid(alpha=0.3, which="both")
    _dedupe_legend(ax)
    _single_run_note(ax, rows)
    return ax
