"""An open load: requests arrive at a set rate (Poisson), whatever the server does.

Locust's users and wrk's connections are *closed*: each waits for its response before the
next request, so an overloaded server is sent less and its queue never shows
(docs/method.md, "Load models"). Here every request has an *intended* time drawn in advance
from a Poisson process at ``rate`` per second; it is sent then, on a connection of its own if
every open one is busy, and its latency is counted from that intended time. A late server
therefore shows as latency, not as a lower rate.

The generator is a subprocess (``python -m scalelab.load.open_rate``), pinned to the generator
CPUs and tied to the thread that started it like every server: asyncio on uvloop (libuv), a
keep-alive HTTP/1.1 connection per request in flight, opened as the requests in flight grow,
its responses parsed by httptools (llhttp, in C). One generator core keeps a schedule of
2,000 requests a second on a page nginx serves from its cache (a test on real servers);
past what it can send, requests wait for a connection and count as late, or as ``unsent``. It writes one
CSV row per request (intended, sent and done times, status) atomically when it ends. The
harness's :func:`point` measures the servers' CPU over the same wall-clock window and derives
the usual row; its ``limit`` is ``rate`` when the servers kept up with the offered rate and
the generator kept to its schedule (the load was the offered rate, by design not a capacity),
``generator`` when the generator fell behind its own schedule.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import httptools

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
from scalelab.results.reference import replayable
from scalelab.plumbing.runs import Run

MAX_RATE = 20_000         # req/s: the most one generator process is asked for (it kept 2,000
                          # on one core using a seventh of it: tests/integration/test_capacity_check.py)
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


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one request at a time, its response parsed by
    httptools (llhttp, in C) as bytes arrive."""

    def __init__(self, pool: "_Pool"):
        self.pool, self.transport, self.request = pool, None, None
        self.parser = httptools.HttpResponseParser(self)

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("error: HttpParserError")

    def on_message_complete(self) -> None:
        request, self.request = self.request, None
        status = self.parser.get_status_code()
        keep = self.parser.should_keep_alive()
        self.parser = httptools.HttpResponseParser(self)
        if not keep:
            self.transport.close()
        self.pool.finished(request, status, self if keep else None)

    def connection_lost(self, exc) -> None:
        self.pool.closed(self)
        if self.request is not None:
            request, self.request = self.request, None
            self.pool.finished(request, f"error: {type(exc).__name__ if exc else 'closed'}",
                               None)

    def send(self, request: list, raw: bytes, now: float) -> None:
        request[1] = now
        self.request = request
        self.transport.write(raw)

    def _fail(self, status: str) -> None:
        request, self.request = self.request, None
        self.transport.abort()
        if request is not None:
            self.pool.finished(request, status, None)


class _Pool:
    """Connections that grow with the requests in flight, up to ``max_in_flight``; a due
    request goes out on an idle connection, else on a new one, else waits for one (sent
    late, and counted so). Each request is ``[intended, sent, done, status]`` (loop time)."""

    def __init__(self, loop, host: str, port: int, raw: bytes, max_in_flight: int,
                 timeout: float):
        self.loop, self.host, self.port, self.raw = loop, host, port, raw
        self.max, self.timeout = max_in_flight, timeout
        self.idle: list[_Connection] = []
        self.waiting: collections.deque = collections.deque()
        self.opened = 0  # connections open or opening
        self.in_flight: dict[int, tuple[list, _Connection | None]] = {}
        self.rows: list[list] = []
        self.open_failures = 0

    def dispatch(self, request: list) -> None:
        if self.idle:
            conn = self.idle.pop()
            self.in_flight[id(request)] = (request, conn)
            conn.send(request, self.raw, self.loop.time())
        elif self.opened < self.max:
            self.opened += 1
            self.in_flight[id(request)] = (request, None)
            self.loop.create_task(self._open_and_send(request))
        else:
            self.waiting.append(request)

    async def _open_and_send(self, request: list) -> None:
        try:
            _, conn = await self.loop.create_connection(lambda: _Connection(self), self.host,
                                                        self.port)
        except OSError as exc:
            self.opened -= 1
            self.open_failures += 1
            self.finished(request, f"error: {type(exc).__name__}", None)
            return
        if self.in_flight.get(id(request), (None,))[0] is not request:
            conn.transport.close()  # timed out while the connection opened
            return
        self.in_flight[id(request)] = (request, conn)
        conn.send(request, self.raw, self.loop.time())

    def finished(self, request: list, status, conn: _Connection | None) -> None:
        if self.in_flight.pop(id(request), None) is None:
            return  # already counted (a timeout)
        request[2], request[3] = self.loop.time(), status
        self.rows.append(request)
        if conn is not None:
            if self.waiting:
                nxt = self.waiting.popleft()
                self.in_flight[id(nxt)] = (nxt, conn)
                conn.send(nxt, self.raw, self.loop.time())
            else:
                self.idle.append(conn)

    def closed(self, conn: _Connection) -> None:
        self.opened -= 1
        if conn in self.idle:
            self.idle.remove(conn)
        if self.waiting and self.opened < self.max:  # a slot freed: the next waiting one
            self.dispatch(self.waiting.popleft())

    def expire(self) -> None:
        """Requests unanswered ``timeout`` after they were sent fail, and their connections
        are dropped."""
        now = self.loop.time()
        for request, conn in list(self.in_flight.values()):
            sent = request[1] if request[1] == request[1] else request[0]  # NaN: opening
            if now - sent <= self.timeout:
                continue
            if conn is not None:
                conn._fail("error: ReadTimeout")
            else:
                self.finished(request, "error: ConnectTimeout", None)


async def _drive(url: str, intended: np.ndarray, timeout: float, max_in_flight: int) -> list:
    """Send each request at its intended time (s from the start); return one
    ``(intended, sent, done, status)`` row per request, in Unix seconds. Requests still
    waiting for a connection when the schedule and its last timeout are over are
    ``unsent`` (no sent or done time)."""
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    raw = (f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
           "User-Agent: scalelab-open-rate\r\nAccept: */*\r\n\r\n").encode()
    pool = _Pool(loop, host, port, raw, max_in_flight, timeout)
    start_wall, start = time.time(), loop.time()
    next_expiry = start + 0.5
    for at in intended:
        due = start + float(at)
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pool.dispatch([due, math.nan, math.nan, "unsent"])
        if loop.time() >= next_expiry:
            pool.expire()
            next_expiry = loop.time() + 0.5
    deadline = loop.time() + timeout + 1
    while (pool.in_flight or pool.waiting) and loop.time() < deadline:
        await asyncio.sleep(0.05)
        pool.expire()
    for request in list(pool.waiting):  # never sent: no connection came free in time
        pool.rows.append(request)
    for conn in pool.idle:
        conn.transport.close()
    shift = start_wall - start
    return [(i + shift, s + shift, d + shift, status) for i, s, d, status in pool.rows]


def _run(coro):
    """The coroutine on uvloop (libuv), asyncio's own loop where uvloop is missing."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


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
    rows = _run(_drive(a.url, intended, a.timeout, a.max_in_flight))
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
    answered within [t0, t1) (the throughput: past capacity, what the server served, not what
    was offered); those *intended* in it (``offered``), their latency from the intended time,
    how late they were sent (an unsent one counts as late, and as a failure) and their
    failures; and the time-average requests in flight (the generator's own count)."""
    part = requests[(requests.intended >= t0) & (requests.intended < t1)]
    every_ok = requests.status.astype(str).isin([str(s) for s in range(200, 400)])
    ok = every_ok[part.index]
    served = int((every_ok & (requests.done >= t0) & (requests.done < t1)).sum())
    unsent = part.sent.isna()
    lat = ((part.done - part.intended) * 1000).dropna()  # an unsent request has none
    late = (part.sent - part.intended) * 1000
    seconds = t1 - t0
    # requests in flight, time-averaged over the window: each one's overlap with it
    overlap = (np.minimum(requests.done, t1) - np.maximum(requests.intended, t0)).clip(lower=0)
    out = {"requests": served, "failures": int((~ok).sum()), "duration_s": seconds,
           "offered": int(len(part)), "unsent": int(unsent.sum()),
           "latency_n": int(len(lat)),
           "mean_ms": float(lat.mean()) if len(lat) else math.nan,
           "max_ms": float(lat.max()) if len(lat) else math.nan,
           # an unsent request is the latest of all: no connection came free for it
           "late_share": float(((late > LATE_MS) | unsent).mean()) if len(part) else math.nan,
           "in_flight_mean": float(overlap.sum() / seconds)}
    for q in (50, 75, 90, 99):
        out[f"p{q}_ms"] = float(np.percentile(lat, q)) if len(lat) else math.nan
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


IDLE_RATE = 10.0  # requests/s at which the server is idle: the generator's own latency shows
CALIBRATION_SHARES = (0.25, 0.5)  # of the page's capacity (wrk's), the rates the schedule is kept at


@replayable
def calibrate(target, url: str, capacity: float, shares=CALIBRATION_SHARES,
              idle_rate: float = IDLE_RATE, duration: int = 3, warmup: int = 1,
              repeats: int = 1, layout: CpuLayout | None = None,
              on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """The open load against itself, per repeat: wrk with one connection pausing 1 ÷
    ``idle_rate`` s after each response on ``url`` (the page's time on an idle server, from a
    generator in C), the open load at ``idle_rate`` (the same, from this one), then at each of ``shares`` of ``capacity`` (requests/s wrk
    measured there). Adds ``asked_rate`` and ``generator_cpu_ms_per_req`` (the generator
    CPUs' busy time per request sent); :func:`calibration_summary` reads them."""
    from scalelab.load import wrk

    if isinstance(capacity, bool) or not isinstance(capacity, (int, float)) or capacity <= 0:
        raise ValueError(f"capacity must be the page's requests/s (wrk's), not {capacity!r}")
    if not shares or any(isinstance(x, bool) or not isinstance(x, (int, float))
                         or not 0 < x < 1 for x in shares):
        raise ValueError(f"shares must be shares of capacity above 0 and below 1, not "
                         f"{shares!r}")
    check_int("repeats", repeats, 1, 20)
    tgt = as_target(target)
    lay = layout or tgt.layout or default_layout()
    rows: list = []
    for repeat in range(repeats):
        closed = wrk.point(target, url, 1, duration, warmup, lay, "wrk, one connection",
                           repeat, delay_ms=round(1000 / idle_rate))
        keep(rows, {**closed, "asked_rate": math.nan,
                    "generator_cpu_ms_per_req": math.nan}, on_point)
        for rate, name in [(idle_rate, "open, idle server")] + [
                (share * capacity, f"open, {share:.0%} of capacity") for share in shares]:
            rec = point(target, url, rate, duration, warmup, lay, name, repeat, seed=1 + repeat)
            sent = rec["offered"] / rec["duration_s"] if rec["duration_s"] else math.nan
            rec.update(asked_rate=rate, generator_cpu_ms_per_req=(
                rec["generator_load"] * len(lay.generator) * 1000 / sent if sent else math.nan))
            keep(rows, rec, on_point)
    return done(rows, on_point)


def calibration_summary(rows: pd.DataFrame) -> dict:
    """What :func:`calibrate` says (medians over repeats): the rate sent ÷ the rate asked
    and the most late sends at the shares of capacity; the generator's CPU-ms per request
    there, and the requests/s one generator core would send at that cost; the mean latency
    the open load adds on an idle server (its mean at ``IDLE_RATE`` − wrk's with one
    connection)."""
    opened = rows[rows.generator == "open"]
    loaded = opened[opened.variant != "open, idle server"]
    if loaded.empty:
        raise ValueError("rows have no open point at a share of capacity: run calibrate")
    idle = opened[opened.variant == "open, idle server"].set_index("repeat").mean_ms
    closed = rows[rows.variant == "wrk, one connection"].set_index("repeat").mean_ms
    cpu = float(loaded.generator_cpu_ms_per_req.median())
    return {"kept": float((loaded.offered / loaded.duration_s / loaded.asked_rate).median()),
            "late_share_max": float(loaded.late_share.max()),
            "generator_cpu_ms": cpu, "one_core_req_s": 1000 / cpu if cpu > 0 else math.inf,
            "added_ms": float((idle - closed).dropna().median()),
            "idle_mean_ms": float(idle.median()), "wrk_mean_ms": float(closed.median())}


if __name__ == "__main__":
    sys.exit(main())
