"""The capacity-planning notebook's own figures (09): cores needed against think time, the
check run's utilisation and response time, predicted against measured, and the plan run on
the model deployment, predicted against measured host by host."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scalelab.plots.standard import _PALETTE, _plain_log, _single_run_note, over_repeats
from scalelab.verdicts.capacity_model import THINK_RANGE


def cores_vs_think(curve: pd.DataFrame, think_range: tuple[float, float] = THINK_RANGE,
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
        mid, lo, hi = (s.reindex(x) for s in over_repeats(g[col]))
        axes[0].errorbar(x, mid, yerr=[(mid - lo).clip(lower=0), (hi - mid).clip(lower=0)],
                         fmt=style, capsize=3, color=_PALETTE[i], label=col)
    axes[0].set_xlabel("offered rate (requests/s, open Poisson arrivals)")
    axes[0].set_ylabel("server CPU busy (share of one core)")
    top = pred[["U predicted (model)", "U predicted (this run)", "U measured"]].max().max()
    axes[0].set_ylim(0, max(1.05, float(top) * 1.05))  # past capacity, predictions above 1
    axes[0].axhline(1, color="black", lw=0.8, ls=":")
    axes[0].set_title("Utilisation: predicted and measured")
    for i, (col, style) in enumerate((("R M/D/1 (ms)", "^--"), ("R M/M/1 (ms)", "s--"),
                                      ("R M/M/1, measured U (ms)", "d:"),
                                      ("R measured (ms)", "o-"))):
        vals, lo, hi = (s.reindex(x) for s in over_repeats(g[col]))
        # a repeat the queue model gives no finite time (U ≥ 1): no point, not one without
        # its whisker
        vals = vals.where(np.isfinite(hi))
        axes[1].errorbar(x, vals, yerr=[(vals - lo).clip(lower=0), (hi - vals).clip(lower=0)],
                         fmt=style, capsize=3, color=_PALETTE[i + 3], label=col[:-5])
    axes[1].set_xlabel("offered rate (requests/s, open Poisson arrivals)")
    axes[1].set_ylabel("mean response time (ms, log scale)")
    axes[1].set_yscale("log")
    axes[1].set_title("Response time: queueing models and measured")
    _plain_log(axes[1], "y")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    _single_run_note(axes[0], pred)
    axes[0].figure.tight_layout()  # the right axis's label clear of the left chart
    return axes


def deployment_vs_plan(check: pd.DataFrame, axes=None):
    """The plan run on the model deployment (``capacity.deployment_check``): each kind of
    host's use of its quota, predicted by the plan and measured (left; the app hosts' mean use,
    its whisker up to the most used host); the response time, predicted by M/M/1 and M/D/1
    queues and measured, mean and p99 (right). Bars: the median over repeats, as
    ``deployment_summary`` quotes them; whiskers: min to max."""
    axes = axes if axes is not None else plt.subplots(1, 2, figsize=(11, 4))[1]
    kinds = ("app hosts", "database", "nginx")
    cols = {"app hosts": ("app host use, predicted", "app host use, measured (mean)"),
            "database": ("database use, predicted", "database use, measured"),
            "nginx": ("nginx use, predicted", "nginx use, measured")}
    x = np.arange(len(kinds))
    for j, (label, offset) in enumerate((("predicted by the plan", -0.2), ("measured", 0.2))):
        mid, least, most = (np.array(v) for v in zip(*(over_repeats(check[cols[k][j]])
                                                        for k in kinds)))
        lo, hi = mid - least, most - mid
        if j == 1:  # the app hosts: from the least to the most used host
            hi[0] = check["app host use, measured (most)"].max() - mid[0]
        axes[0].bar(x + offset, mid, 0.4, yerr=[lo.clip(0), hi.clip(0)], capsize=3,
                    color=_PALETTE[j], label=label)
    limit = float(check["plan's limit"].iloc[0])
    axes[0].axhline(limit, color="black", lw=1, ls="--", label=f"the plan's limit ({limit:.0%})")
    axes[0].set_xticks(x, kinds)
    axes[0].set_ylabel("CPU time ÷ the host's quota")
    axes[0].set_ylim(0, 1.05)
    axes[0].set_title("Each host's use of its quota")
    names = ("mean ms, M/D/1", "mean ms, M/M/1", "mean ms, measured", "p99 ms, M/M/1",
             "p99 ms, measured")
    x2 = np.arange(len(names))
    mid, least, most = (np.array(v) for v in zip(*(over_repeats(check[n]) for n in names)))
    lo, hi = mid - least, most - mid
    colours = [_PALETTE[0] if "measured" not in n else _PALETTE[1] for n in names]
    axes[1].bar(x2, mid, 0.6, yerr=[lo.clip(0), hi.clip(0)], capsize=3, color=colours)
    axes[1].set_xticks(x2, [n.replace(" ms, ", "\n") for n in names], fontsize=8)
    axes[1].set_ylabel("response time (ms)")
    axes[1].set_title("Response time: queueing models and measured")
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=8)
    _single_run_note(axes[0], check)
    return axes
