"""An open load: requests arrive at a set rate (Poisson), whatever the server does.

Locust's users and wrk's connections are *closed*: each waits for its response before the
next request, so an overloaded server is sent less and its queue never shows
(docs/method.md, "Load models"). Here every request has an *intended* time drawn in advance
from a Poisson process at ``rate`` per second; it is sent then, on a connection of its own if
every open one is busy, and its latency is counted from that intended time. A late server
therefore shows as latency, not as a lower rate.

The generator is a subprocess (``python -m scalelab.load.open_rate``), asyncio with httpx, pinned to
the generator CPUs and tied to the thread that started it like every server. It writes one
CSV row per request (intended, sent and done times, status) atomically when it ends. The
harness's :func:`point` measures the servers' CPU over the same wall-clock window and derives
the usual row; its ``limit`` is ``rate`` when the servers kept up with the offered rate and
the generator kept to its schedule (the load was the offered rate, by design not a capacity),
``generator`` when the generator fell behind its own schedule.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from scalelab.measurement import limits
from scalelab.plumbing.loopback import check_url
from scalelab.plumbing.checks import check_int
from scalelab.plumbing.cpus import CpuLayout, default_layout
from scalelab.load import as_target, derive, start_sampler
from scalelab.measurement.cpu_sampler import wait_until_hosts_idle, wait_until_idle
from scalelab.plumbing.processes import spawn, stop_group, wrap_command
from scalelab.results import done, keep
from scalelab.plumbing.runs import Run

MAX_RATE = 2_000          # req/s: beyond this one Python process cannot keep the schedule
LATE_MS = 20.0            # a request sent more than this after its intended time was late
LATE_SHARE = 0.01         # more than this share of late sends: the generator fell behind
LATE_MIN = 3              # ...and at least this many: one stall (a page fault, a busy disk)
                          # delays one send at 10/s, which is no schedule lost
TIMEOUT_S = 10.0          # a request unanswered this long is a failure
MAX_IN_FLIGHT = 1_000     # connections the generator may open; beyond, requests wait for one


def schedule(rate: float, seconds: float, seed: int = 1) -> np.ndarray:
    """Intended send times (s from the start) of a Poisson process at ``rate`` per second."""
    rng = random.Random(seed)
    times, t = [], 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= seconds:
            return np.array(times)
        times.append(t)


async def _drive(url: str, intended: np.ndarray, timeout: float, max_in_flight: int) -> list:
    # httpx, not the lab's own client (scalelab.plumbing.http): this is measured load, sent
    # from asyncio with many requests in flight at once, which that blocking client cannot do
    import httpx

    rows: list = []
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client:
        loop = asyncio.get_running_loop()
        start_wall, start = time.time(), loop.time()

        async def one(at: float) -> None:
            sent = loop.time() - start
            try:
                resp = await client.get(url)
                await resp.aread()
                status = resp.status_code
            except Exception as exc:  # a timeout or a refused connection is a failure
                status = f"error: {type(exc).__name__}"
            rows.append((start_wall + at, start_wall + sent, start_wall + loop.time() - start,
                         status))

        tasks = []
        for at in intended:
            delay = at - (loop.time() - start)
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(float(at))))
        await asyncio.gather(*tasks)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scalelab.load.open_rate",
                                description="Poisson arrivals at a set rate; one CSV row per "
                                            "request")
    p.add_argument("--url", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=TIMEOUT_S)
    p.add_argument("--max-in-flight", type=int, default=MAX_IN_FLIGHT)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    check_url(a.url, "--url")  # the loopback rule, also for a generator started by hand
    intended = schedule(a.rate, a.seconds, a.seed)
    rows = asyncio.run(_drive(a.url, intended, a.timeout, a.max_in_flight))
    df = pd.DataFrame(rows, columns=["intended", "sent", "done", "status"]).sort_values(
        "intended")
    out = Path(a.out)
    tmp = out.with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, out)  # whole or absent
    print(f"{len(df)} requests at {a.rate:g}/s over {a.seconds:g} s written to {out}")
    return 0


def _check(url: str, rate, duration, warmup) -> None:
    if not isinstance(url, str) or not url.startswith("http://"):
        raise ValueError(f"url must be an http:// URL, not {url!r}")
    check_url(url, "url")  # the loopback rule, before anything is sent
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) \
            or not 0 < rate <= MAX_RATE:
        raise ValueError(f"rate must be a number of requests per second above 0 and at most "
                         f"{MAX_RATE} (what one Python generator keeps to), not {rate!r}")
    check_int("duration", duration, 1, 3600)
    check_int("warmup", warmup, 0, 600)


def summarise(requests: pd.DataFrame, t0: float, t1: float) -> dict:
    """The window's figures from per-request rows (times in Unix seconds): the requests
    *intended* in [t0, t1), their latency from the intended time, how late they were sent,
    the failures, and the time-average requests in flight (the generator's own count)."""
    part = requests[(requests.intended >= t0) & (requests.intended < t1)]
    ok = part.status.astype(str).isin([str(s) for s in range(200, 400)])
    lat = (part.done - part.intended) * 1000
    late = (part.sent - part.intended) * 1000
    seconds = t1 - t0
    # requests in flight, time-averaged over the window: each one's overlap with it
    overlap = (np.minimum(requests.done, t1) - np.maximum(requests.intended, t0)).clip(lower=0)
    out = {"requests": int(ok.sum()), "failures": int((~ok).sum()), "duration_s": seconds,
           "offered": int(len(part)),
           "mean_ms": float(lat.mean()) if len(part) else math.nan,
           "max_ms": float(lat.max()) if len(part) else math.nan,
           "late_share": float((late > LATE_MS).mean()) if len(part) else math.nan,
           "in_flight_mean": float(overlap.sum() / seconds)}
    for q in (50, 75, 90, 99):
        out[f"p{q}_ms"] = float(np.percentile(lat, q)) if len(part) else math.nan
    return out


def _open_limit(rec: dict) -> str:
    """``derive``'s limit, with the open load's own: ``generator`` when it fell behind its
    schedule (more than ``LATE_SHARE`` of its sends late, and at least ``LATE_MIN`` of them,
    so one stall at a low rate is not a lost schedule); ``unexplained`` when the server CPUs were saturated but not by the servers'
    own processes (a new connection per queued request costs the kernel there); ``rate``
    when nothing else limited the point (the offered rate did)."""
    lim = rec["limit"]
    if lim in ("failures", "server"):
        return lim
    late = rec["late_share"] * rec.get("offered", 0)
    if (rec["late_share"] > LATE_SHARE and late >= LATE_MIN) \
            or rec["generator_load"] >= limits.GENERATOR_SATURATED:
        return "generator"
    if rec.get("server_cpus_busy", 0) >= limits.SERVER_BUSY:
        return "unexplained"  # the server CPUs were busy, but not with the servers' own work
    return limits.RATE


def point(target, url: str, rate: float, duration: int = 5, warmup: int = 2,
          layout: CpuLayout | None = None, variant: str = "", repeat: int = 0,
          seed: int = 1) -> dict:
    """One measured point of ``url`` under Poisson arrivals at ``rate`` per second: ``warmup``
    seconds of the same load thrown away, then a ``duration``-second window."""
    _check(url, rate, duration, warmup)
    tgt = as_target(target)
    layout = layout or tgt.layout or default_layout()
    run = Run.create("open-rate")
    out = run.dir / "requests.csv"
    log = run.dir / "logs" / "open-rate.log"
    seconds = warmup + duration
    try:
        wait_until_idle(layout.server)
        if tgt.hosts and tgt.throttled:  # a small host's backlog, as before a wrk window
            wait_until_hosts_idle(tgt.throttled)
        sampler = start_sampler(tgt, layout)
        try:
            command = wrap_command(
                [sys.executable, "-m", "scalelab.load.open_rate", "--url", url, "--rate", str(rate),
                 "--seconds", str(seconds), "--seed", str(seed), "--out", str(out)],
                cpus=layout.generator, deathsig="SIGTERM")
            proc = spawn(command, log, env={**os.environ, **run.env()})
            try:
                code = proc.wait(timeout=seconds + TIMEOUT_S + 30)
            except subprocess.TimeoutExpired:
                stop_group(proc)
                raise RuntimeError(f"the open-rate generator did not finish within "
                                   f"{seconds + TIMEOUT_S + 30:.0f} s; see {log}")
            except KeyboardInterrupt:
                stop_group(proc)  # no load left running behind an interrupted cell
                raise
        finally:
            sampler.stop()
        if code != 0 or not out.exists():
            raise RuntimeError(f"the open-rate generator exited with code {code}:\n"
                               + log.read_text()[-1500:])
        requests = pd.read_csv(out)
    finally:
        run.close()
    start = requests.intended.min() if len(requests) else time.time()
    # the window is whole intended seconds after the warm-up (the first arrival comes a
    # fraction of a second after the generator starts)
    t0 = start + warmup
    t1 = t0 + duration
    rec = {"variant": variant, "repeat": repeat, "users": math.nan, "generator": "open",
           "offered_rate": float(rate), **summarise(requests, t0, t1)}
    rec["req_s"] = rec["requests"] / duration
    rec["fail_ratio"] = rec["failures"] / rec["offered"] if rec["offered"] else math.nan
    derive(rec, sampler.window(t0, t1), sampler.counters_window(t0, t1), layout,
           sampler.host_cores)
    rec.update(limits.flags(rec, _open_limit(rec)))
    rec["target"] = "stack" if tgt.components else tgt.url
    return rec


def sweep(target, url: str, rates, duration: int = 5, warmup: int = 2, repeats: int = 1,
          layout: CpuLayout | None = None, variant: str = "",
          on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """``point`` at each rate (lowest first), repeated; each repeat draws other arrivals."""
    if isinstance(rates, (str, bytes)) or not hasattr(rates, "__iter__"):
        raise ValueError(f"rates must be a list of rates per second, not {rates!r}")
    rates = list(rates)
    if not rates or not all(isinstance(r, (int, float)) and not isinstance(r, bool)
                            for r in rates):
        raise ValueError(f"rates must name at least one rate per second, each a number, not "
                         f"{rates!r}")
    check_int("repeats", repeats, 1, 50)
    rows: list = []
    for repeat in range(repeats):
        for rate in sorted(rates):
            keep(rows, point(target, url, rate, duration, warmup, layout,
                             variant or f"{rate:g}/s", repeat, seed=1 + repeat), on_point)
    return done(rows, on_point)


if __name__ == "__main__":
    sys.exit(main())
