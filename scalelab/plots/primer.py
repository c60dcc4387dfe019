"""The primer's own figures (``primer-queueing``): its simulated queues (no server) under a
closed and an open load, and the shapes of the Universal Scalability Law."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scalelab.plots.standard import _finish


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
    """Response time of each request against its arrival time, one line per offered rate, on a
    linear scale: past capacity the queue, and the wait, grow in a straight line, which a log
    scale would bend into a plateau."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for i, (label, df) in enumerate(runs.items()):  # the lower rates drawn over the higher
        ax.plot(df.arrival_ms / 1000, df.R_ms, lw=0.8, label=label, zorder=len(runs) - i)
    ax.set_ylim(bottom=0)
    _finish(ax, "time the request arrived (s)", "response time (ms)",
            "Open load: below capacity latency holds, above it grows without bound")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the lines
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
    ax.set_ylim(0, min(n_max, 30))
    return _finish(ax, "N (workers, nodes or users)", "relative capacity X(N) / X(1)",
                   "Universal Scalability Law: contention (σ) flattens, coherency (κ) bends back")
