"""The baseline notebook's (01) helpers: how many requests a second the generator could send
against what the server can serve (shared with ``scripts/bench.py``), and the same page
under open arrivals beside the closed sweep."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from scalelab.measurement import percentiles
from scalelab.plumbing.checks import check_int, check_number
from scalelab.plumbing.numbers import fmt
from scalelab.results import done, keep
from scalelab.results.reference import replayable


@dataclass(frozen=True)
class Headroom:
    """The generator's capacity over the server's, from one measured point."""

    users: int
    generator_load: float            # busy share of the generator CPUs at that point
    generator_cpu_ms_per_req: float  # the generator's own CPU per request
    generator_req_s: float           # what the generator CPUs could send at that cost
    server_req_s: float              # what the server CPUs can serve (the capacity line)

    @property
    def ratio(self) -> float:
        return self.generator_req_s / self.server_req_s if self.server_req_s else math.nan


def generator_capacity(generator_cpu_ms_per_req: float, generator_cpus: int) -> float:
    """Requests/s the generator CPUs could send at the measured generator CPU per request."""
    if not generator_cpu_ms_per_req or math.isnan(generator_cpu_ms_per_req):
        return math.nan
    return 1000 * generator_cpus / generator_cpu_ms_per_req


def generator_headroom(rows: pd.DataFrame, server_req_s: float, generator_cpus: int
                       ) -> Headroom | None:
    """Headroom at the busiest server-bound point (most users): None when no point was
    server-bound, since then there is no capacity to compare with."""
    if isinstance(generator_cpus, bool) or not isinstance(generator_cpus, int) \
            or generator_cpus < 1:
        raise ValueError(f"generator_cpus must be a whole number of 1 or more, not "
                         f"{generator_cpus!r}")
    bound = rows[rows["limit"] == "server"] if "limit" in rows.columns else rows.iloc[0:0]
    if bound.empty:
        return None
    p = bound.sort_values("users").iloc[-1]
    return Headroom(int(p.users), float(p.generator_load), float(p.generator_cpu_ms_per_req),
                    generator_capacity(float(p.generator_cpu_ms_per_req), generator_cpus),
                    float(server_req_s))


# Open arrivals (experiment 5): Poisson arrivals at shares of the capacity line, the same
# page as the closed sweep. Below 1 the knee is approached from below; past 1 the queue grows
# for as long as the window lasts, which a closed load cannot show.
OPEN_SHARES = (0.5, 0.9, 1.2)


@replayable
def open_sweep(target, page, capacity_req_s: float, shares=OPEN_SHARES,
               duration: int = 4, warmup: int = 1, repeats: int = 1,
               on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """``open_rate.point`` on ``page`` (a one-page ``Workload``, or a URL) at each of
    ``shares`` × ``capacity_req_s`` (the utilisation law's capacity), lowest first, the repeats
    interleaved (each draws other arrivals). Adds ``share`` (of the capacity line)."""
    from scalelab.load import open_rate, wrk

    check_number("capacity_req_s (the capacity line's requests/s; none without a "
                 "server-bound point)", capacity_req_s, 0, 1e6, low_open=True)
    if isinstance(shares, (str, bytes)) or not hasattr(shares, "__iter__") or not list(shares):
        raise ValueError(f"shares must list shares of capacity, not {shares!r}")
    for share in shares:
        check_number("shares", share, 0, 3, low_open=True)
    check_int("repeats", repeats, 1, 50)
    url = page if isinstance(page, str) else wrk.url_of(target, page)
    rows: list[dict] = []
    for repeat in range(repeats):
        for share in sorted(shares):
            rec = open_rate.point(target, url, share * capacity_req_s, duration, warmup,
                                  variant=f"open, {share:.0%} of capacity", repeat=repeat,
                                  seed=1 + repeat)
            rec["share"] = float(share)
            keep(rows, rec, on_point)
    return done(rows, on_point)


def closed_and_open(closed: pd.DataFrame, opened: pd.DataFrame) -> pd.DataFrame:
    """Each open point (medians over repeats, per share) beside the closed sweep's user
    count whose throughput was nearest: throughput, p50, p99 and the latencies each p99
    rests on. Past capacity the open p99 is the queue the closed users never build."""
    if closed.empty or opened.empty:
        raise ValueError("closed and opened must each hold measured rows")
    c = closed.groupby("users").agg(req_s=("req_s", "median"), p50_ms=("p50_ms", "median"),
                                    p99_ms=("p99_ms", "median"),
                                    n=("requests", "median")).reset_index()
    o = opened.assign(n=percentiles.samples(opened)).groupby("share").agg(
        offered_rate=("offered_rate", "median"), req_s=("req_s", "median"),
        p50_ms=("p50_ms", "median"), p99_ms=("p99_ms", "median"), n=("n", "median"),
        late_share=("late_share", "max")).reset_index()
    out = []
    for _, r in o.iterrows():
        near = c.iloc[(c.req_s - r.req_s).abs().argmin()]
        out.append({"share of capacity": r.share, "offered (req/s)": r.offered_rate,
                    "open: served (req/s)": r.req_s, "open: p50 (ms)": r.p50_ms,
                    "open: p99 (ms)": r.p99_ms, "open: latencies": int(r.n),
                    "open: late sends": r.late_share,
                    "closed: users": int(near.users), "closed: served (req/s)": near.req_s,
                    "closed: p50 (ms)": near.p50_ms, "closed: p99 (ms)": near.p99_ms,
                    "closed: latencies": int(near.n)})
    return pd.DataFrame(out)


def knee_solution(queue: pd.DataFrame, capacity, think: tuple[float, float]) -> str:
    """Exercise 2's worked solution from this run: the knee N* = (R + Z) ÷ D with a think
    time uniform over ``think`` (seconds), D the capacity line's time per request (server
    CPU-ms per request over the server CPUs) and R the lightest load's measured response
    time (``queue``: ``analysis.queueing_table``'s rows)."""
    low, high = think
    if not 0 <= low <= high:
        raise ValueError(f"think must be (low, high) seconds with 0 <= low <= high, not {think!r}")
    z_ms = (low + high) / 2 * 1000
    d_ms = capacity.cpu_ms_per_req / capacity.server_cpus
    if not (math.isfinite(d_ms) and d_ms > 0) or queue.empty:
        return ("No point of this run was server-bound, so it has no D to put in "
                "N* = (R + Z) ÷ D: rerun the sweep until the table of limits shows server-bound "
                "points.")
    light = queue.sort_values("users").iloc[0]
    users, r_ms = int(light.users), float(light["R (ms)"])
    knee, measured = (r_ms + z_ms) / d_ms, (r_ms + light["Z (ms)"]) / d_ms
    return (f"This run's capacity line gives D = {fmt(d_ms)} ms a request, and with {users} "
            f"user{'' if users == 1 else 's'} R was {fmt(r_ms)} ms. With Z = {z_ms / 1000:g} "
            f"s, N* = ({fmt(r_ms)} + {fmt(z_ms)}) ÷ {fmt(d_ms)} ≈ **{fmt(knee, 3)} users**, "
            f"{fmt(knee / measured)} times the knee this run's think time gives: the knee moves "
            "right by the ratio of R + Z, and the capacity line does not move at all, since it "
            "depends on D only.")


def longer_window_solution(side: pd.DataFrame, window_s: float, share: float = 1.2) -> str:
    """Exercise 4's worked solution: past capacity, the open load's queue grows by offered −
    served requests a second, so the latest arrival of a window of ``window_s`` waits about
    (λ − μ)·T ÷ μ, and twice as long in a window twice as long (``side``:
    ``closed_and_open``'s rows; the point past capacity nearest ``share``)."""
    past = side[side["share of capacity"] > 1]
    if past.empty:
        return ("This run offered no load past capacity, so no queue grew: add a share above 1 "
                "to `open_shares` and run again.")
    row = past.loc[(past["share of capacity"] - share).abs().idxmin()]
    lam, mu = row["offered (req/s)"], row["open: served (req/s)"]
    said = (f"At {row['share of capacity']:.0%} of capacity {fmt(lam, 3)} requests a second were "
            f"offered and {fmt(mu, 3)} served. ")
    if not lam > mu > 0:
        return said + ("The server kept up, so no queue grew through the window: a longer one "
                       "would change the p99 only by its noise.")
    wait_ms = (lam - mu) * window_s / mu * 1000
    return said + (f"The queue grew by {fmt(lam - mu, 3)} a second, so at the end of the "
                   f"{window_s:g}-s window the latest arrival waited about ({fmt(lam - mu, 3)} × "
                   f"{window_s:g}) ÷ {fmt(mu, 3)} s = {fmt(wait_ms, 3)} ms; the p99 measured "
                   f"{fmt(row['open: p99 (ms)'], 3)} ms. With the window doubled the queue at "
                   f"its end doubles: about {fmt(2 * wait_ms, 3)} ms for the latest arrival, "
                   f"and a p99 near **{fmt(2 * row['open: p99 (ms)'], 3)} ms**. The closed "
                   "load's would not move: its users stop sending while they wait.")
