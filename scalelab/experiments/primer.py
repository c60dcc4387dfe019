"""The primer's queues (notebook ``primer-queueing``): one server simulated in plain Python,
under a closed load (users who wait, then think) and an open one (arrivals at a fixed rate),
so the ideas the lab's notebooks use can be seen in seconds without a server.

The server is first come, first served; service and think times are exponential with the
given means, seeded, so every run of the primer shows the same numbers.
"""

from __future__ import annotations

import heapq
import math
import random
from typing import Sequence

import numpy as np
import pandas as pd

from scalelab.plumbing.checks import check_int
from scalelab.plumbing.numbers import fmt


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive number of milliseconds, not {value!r}")
    return float(value)


def closed(users: int, service_ms: float = 10.0, think_ms: float = 50.0,
           requests: int = 20_000, seed: int = 1) -> dict:
    """``users`` users, each sends a request, waits for it, thinks, sends the next: one
    server. Returns throughput X (req/s), mean and p99 response time R (ms), utilisation U."""
    check_int("users", users, 1, 10_000)
    check_int("requests", requests, 100, 1_000_000)
    d, z = _positive("service_ms", service_ms), _positive("think_ms", think_ms)
    rng = random.Random(seed)
    arrivals = [(rng.expovariate(1 / z), u) for u in range(users)]  # first send after a think
    heapq.heapify(arrivals)
    free_at, busy, times = 0.0, 0.0, []
    first = None
    while len(times) < requests:
        t, user = heapq.heappop(arrivals)
        first = t if first is None else first
        service = rng.expovariate(1 / d)
        start = max(t, free_at)
        free_at = start + service
        busy += service
        times.append(free_at - t)
        heapq.heappush(arrivals, (free_at + rng.expovariate(1 / z), user))
    span = free_at - first
    r = np.array(times)
    return {"users": users, "X_req_s": requests / span * 1000, "R_ms": float(r.mean()),
            "R_p99_ms": float(np.percentile(r, 99)), "U": busy / span,
            "service_ms": d, "think_ms": z}


def closed_sweep(users: Sequence[int], service_ms: float = 10.0, think_ms: float = 50.0,
                 requests: int = 20_000, seed: int = 1) -> pd.DataFrame:
    """``closed`` for each user count, with the two bounds of operational analysis: throughput
    at most N / (D + Z) (no queueing) and 1 / D (the server's capacity)."""
    df = pd.DataFrame([closed(n, service_ms, think_ms, requests, seed) for n in users])
    df["X_no_queue"] = df.users / (service_ms + think_ms) * 1000
    df["X_capacity"] = 1000 / service_ms
    df["R_past_knee_ms"] = np.maximum(service_ms, df.users * service_ms - think_ms)
    return df


def knee(service_ms: float, think_ms: float) -> float:
    """N* = (R + Z) / D with R = D at light load: the users at which the two bounds meet."""
    return (_positive("service_ms", service_ms) + _positive("think_ms", think_ms)) / service_ms


def open_load(rate_per_s: float, service_ms: float = 10.0, seconds: float = 20.0,
              seed: int = 1) -> pd.DataFrame:
    """Arrivals at ``rate_per_s`` (Poisson) for ``seconds``, whatever the server does: one row
    per request with its arrival time, response time, and the requests in the system then."""
    lam = rate_per_s
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam > 0:
        raise ValueError(f"rate_per_s must be a positive number, not {rate_per_s!r}")
    d = _positive("service_ms", service_ms)
    rng = random.Random(seed)
    t, free_at, rows = 0.0, 0.0, []
    horizon = seconds * 1000
    while True:
        t += rng.expovariate(lam / 1000)
        if t > horizon:
            break
        start = max(t, free_at)
        free_at = start + rng.expovariate(1 / d)
        rows.append((t, free_at - t, free_at))
    df = pd.DataFrame(rows, columns=["arrival_ms", "R_ms", "done_ms"])
    return df


def littles_law(df: pd.DataFrame) -> dict:
    """Little's law checked on an open run from two independent measurements: the time-average
    number of requests in the system (integrated over time) against arrival rate x mean time
    in system."""
    start, end = df.arrival_ms.min(), df.done_ms.max()
    events = np.concatenate([np.c_[df.arrival_ms, np.ones(len(df))],
                             np.c_[df.done_ms, -np.ones(len(df))]])
    events = events[np.argsort(events[:, 0], kind="stable")]
    in_system = np.cumsum(events[:, 1])[:-1]
    area = float(np.sum(in_system * np.diff(events[:, 0])))
    lam = len(df) / (end - start)
    return {"L_time_average": area / (end - start), "lambda_x_W": lam * float(df.R_ms.mean()),
            "rate_per_s": lam * 1000, "W_ms": float(df.R_ms.mean())}


def stall(service_ms: float = 5.0, interval_ms: float = 10.0, seconds: float = 10.0,
          stall_at_s: float = 5.0, stall_s: float = 1.0) -> dict:
    """Coordinated omission: a server that freezes for ``stall_s``, measured by one closed user
    sending every ``interval_ms`` (it waits out the stall and sends nothing meanwhile), and by
    the same schedule measured from when each request *should* have been sent (as an open
    generator, or wrk2's correction, does). Returns both views' mean and p99."""
    d, gap = _positive("service_ms", service_ms), _positive("interval_ms", interval_ms)
    a, b = stall_at_s * 1000, (stall_at_s + stall_s) * 1000

    def served(start: float) -> float:
        if a <= start < b:
            start = b  # the request waits for the server to wake up
        return start + d

    closed_lat, t = [], 0.0
    while t < seconds * 1000:  # send, wait for the answer, send the next at the schedule or now
        done = served(t)
        closed_lat.append(done - t)
        t = max(t + gap, done)
    intended, free_at = [], 0.0
    for k in range(int(seconds * 1000 / gap)):
        s = k * gap
        done = served(max(s, free_at))
        free_at = done
        intended.append(done - s)
    c, o = np.array(closed_lat), np.array(intended)
    slow = 10 * d  # "slow": ten times the service time
    return {"closed_requests": len(c), "closed_slow": int((c > slow).sum()),
            "intended_slow": int((o > slow).sum()), "closed_mean_ms": float(c.mean()),
            "closed_p99_ms": float(np.percentile(c, 99)), "intended_requests": len(o),
            "intended_mean_ms": float(o.mean()), "intended_p99_ms": float(np.percentile(o, 99)),
            "stall_ms": stall_s * 1000}


def usl_solution(sweep: pd.DataFrame, service_ms: float, think_ms: float) -> str:
    """Exercise 3's worked solution: the USL fitted to a closed sweep of one server
    (``closed_sweep``'s rows), its σ beside D ÷ (D + Z), the share of the server one user keeps
    busy, and how the two compare (of the same order within a factor of two)."""
    from scalelab.verdicts.usl import fit_usl

    d, z = _positive("service_ms", service_ms), _positive("think_ms", think_ms)
    fit = fit_usl(sweep.users, sweep.X_req_s)
    busy = d / (d + z)
    ratio = fit.sigma / busy
    compared = ("of the same order as" if 0.5 <= ratio <= 2 else
                "well below" if ratio < 0.5 else "well above")
    return (f"The fit gives **σ = {fit.sigma:.3f}** (κ = {fit.kappa:.4f}), {compared} D ÷ (D + Z) "
            f"= {fmt(d)} ÷ {fmt(d + z)} = {busy:.3f} ({fmt(ratio)} times it), and far from 1. "
            "One server is a resource everyone waits for, but each user keeps it busy only "
            "D ÷ (D + Z) of the time (the rest is thinking): one user's throughput is "
            "1 ÷ (D + Z), and the USL's ceiling, 1 ÷ σ times that, is the server's 1 ÷ D when "
            "σ = D ÷ (D + Z). σ is 1 only for users who never think: then one user already "
            "keeps the server busy.")
