"""The windows arithmetic, pure: which whole seconds of a step are measured, and the request
figures of those seconds (counts, latency percentiles) from the per-second histograms the
locustfile writes. No files, no processes: ``locust.measured_points`` reads and adds CPU."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

FLUSH_LAG = 2.5  # seconds after which the locustfile has written every request of a second


@dataclass(frozen=True)
class Step:
    """One step of a Locust run as the locustfile recorded it (times in Unix seconds)."""

    index: int
    users: int
    started: float
    scheduled_end: float
    variant: str = ""

    @classmethod
    def from_record(cls, r: dict) -> "Step":
        return cls(r["step"], r["users"], r["t"], r["scheduled_end"], r.get("variant", ""))


@dataclass
class Window:
    """The measured whole seconds [t0, t1) of one step, and what the generator saw there."""

    step: Step
    t0: int
    t1: int
    requests: int = 0
    failures: int = 0
    response_ms_sum: float = 0.0
    hist: dict[int, int] = field(default_factory=dict)  # latency (ms) -> requests
    pages: dict[str, int] = field(default_factory=dict)  # page name -> requests

    @property
    def seconds(self) -> int:
        return self.t1 - self.t0

    def figures(self) -> dict:
        """The generator's figures of this window, as columns of a point's row."""
        n = self.requests
        return {
            "step": self.step.index,
            "users": self.step.users,
            "duration_s": self.seconds,
            "requests": n,
            "failures": self.failures,
            "req_s": n / self.seconds,
            "fail_ratio": self.failures / n if n else math.nan,
            "mean_ms": self.response_ms_sum / n if n else math.nan,
            "p50_ms": percentile(self.hist, 0.50),
            "p90_ms": percentile(self.hist, 0.90),
            "p99_ms": percentile(self.hist, 0.99),
            "max_ms": float(max(self.hist)) if self.hist else math.nan,
            "window_start": self.t0,
            "window_end": self.t1,
        }


def percentile(hist: dict[int, int], q: float) -> float:
    """The q-quantile (0 to 1) of a histogram of value -> count; NaN when it is empty."""
    total = sum(hist.values())
    if total == 0:
        return math.nan
    need = q * total
    acc = 0
    for value in sorted(hist):
        acc += hist[value]
        if acc >= need:
            return float(value)
    return float(max(hist))


def step_seconds(warmup: float, duration: float) -> int:
    """A step's length, whole seconds: it begins on a whole second (the locustfile's shape),
    so its window of ``int(duration)`` whole seconds starts ``ceil(warmup)`` seconds in, and
    ``ceil(warmup) + floor(duration) <= ceil(warmup + duration)``."""
    return math.ceil(warmup + duration)


def bounds(step: Step, warmup: float, window: float | None, data_end: float,
           complete_before: float | None = None) -> tuple[int, int] | None:
    """[t0, t1) of a step's measured window: whole seconds from the end of its warm-up, at most
    ``window`` long. ``data_end``: the time until which every request is written (the run's
    recorded end, or else a second after the last written second). None if the step is not a
    finished point: it ends after ``complete_before`` (still being written), or after the
    data (the run stopped early), or leaves less than a second."""
    if complete_before is not None and step.scheduled_end > complete_before:
        return None
    t0 = math.ceil(step.started + warmup)
    t1 = math.floor(min(step.scheduled_end, data_end))
    if window is not None:
        t1 = min(t1, t0 + int(window))
    if t1 - t0 < 1 or step.scheduled_end > data_end + 0.5:
        return None
    return t0, t1


def cut(steps: Iterable[Step], cells: Sequence[dict], warmup: float | Sequence[float],
        window: float | None = None, complete_before: float | None = None,
        ended: float | None = None) -> list[Window]:
    """Each finished step's window, with the requests of the per-second ``cells`` inside it.

    A cell is one page's second: ``{"t", "name", "n", "fail", "sum", "h": {ms: count}}``.
    ``warmup`` is seconds, or one number per step index. ``ended``: when the run ended as
    planned (every second before it is written, even one without a request); without it,
    the data ends a second after the last written second."""
    data_end = ended if ended is not None else max((c["t"] for c in cells), default=0) + 1
    windows = []
    for step in steps:
        step_warmup = warmup[step.index] if isinstance(warmup, (list, tuple)) else warmup
        span = bounds(step, step_warmup, window, data_end, complete_before)
        if span is None:
            continue
        w = Window(step, *span)
        hist: dict[int, int] = defaultdict(int)
        pages: dict[str, int] = defaultdict(int)
        for c in cells:
            if w.t0 <= c["t"] < w.t1:
                w.requests += c["n"]
                w.failures += c["fail"]
                w.response_ms_sum += c["sum"]
                pages[c["name"]] += c["n"]
                for k, v in c["h"].items():
                    hist[int(k)] += v
        w.hist, w.pages = dict(hist), dict(pages)
        windows.append(w)
    return windows
