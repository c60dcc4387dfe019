"""How many requests a latency percentile rests on, and a note when a window holds too few.

The q-th percentile of n latencies is exceeded by about n × (1 − q/100) of them: the p99 of
100 requests is the second-slowest request, of 1,000 the tenth-slowest. A percentile with
fewer than ``MIN_BEYOND`` requests beyond it is *thin*: it is the slowest few requests of
that window, not a tail, and it moves with any one of them. The lab's percentiles are exact
over every request of the window (the open load's rows, wrk's report) or from millisecond
histograms (Locust's), so their precision is the sample, not the binning.
"""

from __future__ import annotations

import math

import pandas as pd

from scalelab.plumbing.checks import check_number

MIN_BEYOND = 10  # requests beyond a percentile, at the least, for it to describe a tail


def samples(rows: pd.DataFrame) -> pd.Series:
    """Latencies each row's percentiles were computed from: ``latency_n`` where the row has
    it (the open load: requests intended in the window and answered), else ``requests``."""
    if "requests" not in rows and "latency_n" not in rows:
        raise ValueError("rows must have a 'requests' or 'latency_n' column")
    n = rows["requests"].astype(float) if "requests" in rows else \
        pd.Series(math.nan, index=rows.index)
    if "latency_n" in rows:
        n = rows["latency_n"].astype(float).fillna(n)
    return n


def _check_q(q) -> float:
    return check_number("q", q, 0, 100, low_open=True, high_open=True)


def beyond(rows: pd.DataFrame, q: float = 99) -> pd.Series:
    """Requests beyond each row's q-th percentile: floor(samples × (1 − q/100))."""
    q = _check_q(q)
    return (samples(rows) * (100 - q) / 100 + 1e-9).apply(math.floor)


def thin(rows: pd.DataFrame, q: float = 99) -> pd.Series:
    """True where fewer than ``MIN_BEYOND`` requests lie beyond the q-th percentile."""
    return beyond(rows, q) < MIN_BEYOND


def needed(q: float = 99) -> int:
    """Requests a window needs for its q-th percentile to have ``MIN_BEYOND`` beyond it."""
    q = _check_q(q)
    return math.ceil(MIN_BEYOND * 100 / (100 - q) - 1e-9)


def note(rows: pd.DataFrame, q: float = 99) -> str:
    """One sentence: how many latencies the windows' q-th percentiles rest on, and which are
    thin (fewer than ``MIN_BEYOND`` requests beyond them)."""
    if rows.empty:
        return f"No window: no p{q:g}."
    n = samples(rows)
    few = thin(rows, q)
    name = f"p{q:g}"
    span = f"{int(n.min()):,}" if n.min() == n.max() else f"{int(n.min()):,} to {int(n.max()):,}"
    head = f"Each window's {name} rests on {span} latencies"
    if not few.any():
        return (f"{head}: at least {int(beyond(rows, q).min())} requests lie beyond it in "
                f"every window.")
    return (f"{head}: {int(few.sum())} of {len(rows)} windows held fewer than {needed(q):,}, "
            f"so fewer than {MIN_BEYOND} requests lie beyond their {name}; read those as "
            f"the slowest few requests, not as a tail (marked in the plots).")
