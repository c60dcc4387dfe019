"""Arithmetic on measured rows that notebooks share: summaries over repeats, the knee of a
throughput curve, capacity from cost, queueing tables.

Drawing lives in ``plots``, prose in ``notebook``, rules in ``verdicts``/``rules``; this
module only computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from scalelab.measurement import limits


@dataclass(frozen=True)
class Capacity:
    """Requests/s the server CPUs can serve at the measured cost (the utilisation law)."""

    req_s: float
    low: float
    high: float
    cpu_ms_per_req: float
    server_cpus: int
    points: int


def utilisation_capacity(rows: pd.DataFrame, server_cpus: int) -> Capacity:
    """server CPUs ÷ server CPU-seconds per request, from server-bound rows only.

    The cost is the median over those rows, and ``low``/``high`` come from the highest and
    lowest cost among them. NaN when no row is server-bound.
    """
    if isinstance(server_cpus, bool) or not isinstance(server_cpus, int) or server_cpus < 1:
        raise ValueError(f"server_cpus must be a whole number of 1 or more, not {server_cpus!r}")
    bound = limits.usable(rows, "server-bound") if not rows.empty else rows
    cost = bound["cpu_ms_per_req_server"].dropna() if not bound.empty else pd.Series(dtype=float)
    if cost.empty:
        return Capacity(math.nan, math.nan, math.nan, math.nan, server_cpus, 0)
    cap = lambda ms: 1000 * server_cpus / ms  # noqa: E731
    return Capacity(cap(cost.median()), cap(cost.max()), cap(cost.min()), float(cost.median()),
                    server_cpus, int(len(cost)))


def queueing_table(rows: pd.DataFrame, capacity: Capacity) -> pd.DataFrame:
    """Per user count: throughput X, response time R and think time Z as measured, N = X(R+Z)
    (Little's law: an identity when all three come from the generator), and, past the knee,
    the response time the utilisation law predicts from CPU alone: R = N / X_max - Z, where
    X_max is ``capacity`` (from CPU counters, not from the generator's latencies)."""
    g = rows.groupby("users", sort=True)
    out = pd.DataFrame({
        "X (req/s)": g["req_s"].mean(),
        "R (ms)": g["mean_ms"].mean(),
        "Z (ms)": g["think_s"].mean() * 1000,
    })
    out["X·(R+Z) (users)"] = out["X (req/s)"] * (out["R (ms)"] + out["Z (ms)"]) / 1000
    bound = g["limit"].agg(lambda s: (s == "server").all())
    predicted = out.index.to_series() * 1000 / capacity.req_s - out["Z (ms)"]
    out["R predicted from CPU (ms)"] = predicted.where(bound)
    out["limit"] = g["limit"].agg(lambda s: "/".join(sorted(set(s))))
    return out.reset_index()


def summarize(df: pd.DataFrame, metrics=("req_s", "p50_ms", "p90_ms", "p99_ms", "mean_ms",
                                         "cpu_ms_per_req_server"),
              by=("variant", "users")) -> pd.DataFrame:
    """Mean, min, max and coefficient of variation of each metric per group, and repeats."""
    by = [b for b in by if b in df.columns]
    metrics = [m for m in metrics if m in df.columns]
    g = df.groupby(by, sort=True)
    out = g.size().rename("repeats").to_frame()
    for m in metrics:
        out[m] = g[m].mean()
        out[f"{m}_min"] = g[m].min()
        out[f"{m}_max"] = g[m].max()
        std = g[m].std(ddof=1)
        out[f"{m}_cv"] = (std / out[m]).where(out["repeats"] > 1)
    if "generator_saturated" in df.columns:
        out["generator_saturated"] = g["generator_saturated"].any()
    if "limit" in df.columns:
        out["limit"] = g["limit"].agg(limits.worst_limit)
    return out.reset_index()


def knee(summary: pd.DataFrame, x: str = "users", y: str = "req_s", gain: float = 0.10):
    """The knee of a throughput curve: the first point after which doubling the load adds
    less than ``gain`` (10%) throughput. Returns that row of ``summary``. Points whose
    requests failed or whose generator was the limit are left out: they do not show the
    server's curve."""
    s = summary
    if "limit" in s.columns:
        s = s[~s["limit"].isin(("failures", "generator"))]
    if s.empty:
        raise ValueError("no point to find a knee on: every point was limited by failures "
                         "or by the generator")
    s = s.sort_values(x).reset_index(drop=True)
    dips = s[s[y] < 0.9 * s[y].cummax()]
    if len(dips):
        import warnings

        warnings.warn(f"{y} fell by more than 10% as {x} grew (at {x} = "
                      f"{', '.join(str(v) for v in dips[x])}): a busy machine or a limit "
                      "elsewhere; read the knee with care", stacklevel=2)
    for i in range(len(s) - 1):
        if s.loc[i + 1, y] < s.loc[i, y] * (1 + gain):
            return s.loc[i]
    return s.iloc[-1]
