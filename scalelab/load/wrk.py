"""wrk, an independent load generator: the same measured point as Locust's, from other code.

Two uses: **calibration** (the lab's Locust against wrk on the same page and stack: do they
agree?) and pages too cheap for Locust to keep the servers busy (wrk, written in C, sends
tens of thousands of requests a second from one core). wrk drives one URL with a fixed number
of connections, each waiting for its response: a closed model like Locust's users. Given a
tuple of URLs on one server (a page and its assets: a page view's worth of requests), a Lua
script makes it request them in turn, so each is an exact share of the requests; ``delay_ms``
makes each connection pause before each request (a paced load beside another measurement).

A point: a warm-up run (thrown away), then a measured run; requests, failures and latency
percentiles come from wrk's own report of the measured run, CPU from the same sampler as
Locust's points over that run's wall-clock span, and the derived figures and limit flags from
:func:`scalelab.load.derive`, so both generators' rows read alike.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd

from scalelab.plumbing import binaries
from scalelab.plumbing.checks import check_choice, check_int
from scalelab.plumbing.loopback import check_url
from scalelab.plumbing.cpus import CpuLayout, default_layout
from scalelab.load import as_target, derive, start_sampler
from scalelab.measurement.cpu_sampler import wait_until_hosts_idle, wait_until_idle
from scalelab.results.reference import replayable
from scalelab.results import done, keep
from scalelab.plumbing.runs import Run
from scalelab.plumbing.processes import run_to_end, spawn, stop_group, wrap_command

METHODS = ("GET", "POST")  # what a wrk point may send (a POST has an empty body)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse(report: str) -> dict:
    """Requests, seconds, failures and latency percentiles from wrk's ``--latency`` report."""
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", report)
    if not m:
        raise ValueError("wrk's report has no 'N requests in T' line:\n" + report[-1000:])
    out = {"requests": int(m.group(1)), "wrk_seconds": _ms(m.group(2) + m.group(3)) / 1000}
    for q in ("50", "75", "90", "99"):
        p = re.search(rf"^\s*{q}(?:\.0+)?%\s+(\S+)\s*$", report, re.M)
        out[f"p{q}_ms"] = _ms(p.group(1)) if p else math.nan
    avg = re.search(r"^\s*Latency\s+(\S+)", report, re.M)
    out["mean_ms"] = _ms(avg.group(1)) if avg else math.nan
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                     report)
    out["failures"] = (int(non2xx.group(1)) if non2xx else 0) + \
        (sum(int(g) for g in sock.groups()) if sock else 0)
    return out


def _check(url, connections: int, duration: int, warmup: int, delay_ms: int = 0) -> None:
    check_int("connections", connections, 1, 10_000)
    check_int("delay_ms", delay_ms, 0, 10_000)
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 3600:
        raise ValueError(f"duration must be whole seconds from 1 to 3600, not {duration!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or not 0 <= warmup <= 600:
        raise ValueError(f"warmup must be whole seconds from 0 to 600, not {warmup!r}")
    for one in urls_of(url):
        if "{" in one:
            raise ValueError(f"wrk drives fixed URLs; {one!r} is a template")


def urls_of(url) -> tuple[str, ...]:
    """The URLs of a point: one URL, or a non-empty tuple or list of URLs on one server."""
    urls = (url,) if isinstance(url, str) else tuple(url) if isinstance(url, (tuple, list)) \
        else ()
    if not urls or not all(isinstance(u, str) and u.startswith("http://") for u in urls):
        raise ValueError(f"url must be an http:// URL or a non-empty tuple of them, not {url!r}")
    for one in urls:
        check_url(one, "url")  # the loopback rule, before anything is sent
    origins = {urllib.parse.urlsplit(u)[:2] for u in urls}
    if len(origins) > 1:
        raise ValueError(f"the URLs of one wrk point must share one server, not {sorted(origins)}")
    return urls


def methods_of(method, urls: tuple[str, ...]) -> tuple[str, ...]:
    """One method for every URL: ``method`` is one for all, or a tuple, one per URL (a turn
    of reads with a vote among them)."""
    methods = (method,) * len(urls) if isinstance(method, str) else method
    if not isinstance(methods, (tuple, list)) or len(methods) != len(urls):
        raise ValueError(f"method must be one of {', '.join(METHODS)} or a tuple of them, "
                         f"one per URL ({len(urls)}), not {method!r}")
    for one in methods:
        check_choice("method", one, METHODS)
    return tuple(methods)


def lua_script(urls: tuple[str, ...], delay_ms: int = 0, method="GET") -> str:
    """A wrk script that requests the paths of ``urls`` in turn (one counter for all
    connections of its one thread) with ``method`` (one for all, or one per URL) and, with
    ``delay_ms``, pauses before each request."""
    methods = methods_of(method, urls)

    def path(u: str) -> str:
        parts = urllib.parse.urlsplit(u)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    listed = ", ".join(json.dumps(path(u)) for u in urls)
    verbs = ", ".join(json.dumps(m) for m in methods)
    script = (f"local paths = {{{listed}}}\nlocal methods = {{{verbs}}}\nlocal i = 0\n"
              "request = function()\n  i = i % #paths + 1\n"
              "  return wrk.format(methods[i], paths[i])\nend\n")
    if delay_ms:
        script += f"delay = function() return {int(delay_ms)} end\n"
    return script


def start(run: Run, url, connections: int, seconds: int, layout: CpuLayout, log_name: str,
          delay_ms: int = 0, headers: dict[str, str] | None = None, method: str | tuple[str, ...] = "GET"):
    """Start wrk (pinned to the generator CPUs, tied to this thread); return its process.
    ``headers`` go with every request (e.g. a session's cookie)."""
    urls = urls_of(url)
    exe = str(binaries.require("wrk").path())
    args = [exe, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in (headers or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9-]+", str(name)) or "\n" in str(value):
            raise ValueError(f"headers must map header names to one-line values, not "
                             f"{name!r}: {value!r}")
        args += ["-H", f"{name}: {value}"]
    if len(urls) > 1 or delay_ms or method != "GET":
        script = run.dir / (log_name.rsplit(".", 1)[0] + ".lua")
        script.write_text(lua_script(urls, delay_ms, method))
        args += ["-s", str(script)]
    command = wrap_command(args + [urls[0]], cpus=layout.generator, deathsig="SIGTERM")
    env = {**os.environ, **run.env()}  # marked as ours, so the reaper knows it
    return spawn(command, run.dir / "logs" / log_name, env=env)


class Background:
    """wrk running beside something else (:func:`background`)."""

    def __init__(self, proc: subprocess.Popen, log: Path, seconds: int):
        self.proc, self.log, self.seconds = proc, log, seconds

    def report(self) -> dict:
        """Wait for wrk to end its run (``seconds`` + 30 s at most); its report, parsed."""
        self.proc.wait(timeout=self.seconds + 30)
        return parse(self.log.read_text())


@contextlib.contextmanager
def background(url, connections: int, seconds: int, layout: CpuLayout, log_name: str,
               label: str = "wrk", delay_ms: int = 0, headers: dict[str, str] | None = None,
               method: str | tuple[str, ...] = "GET") -> Iterator[Background]:
    """wrk started (:func:`start`, in a run folder of its own named ``label``) for the block,
    which may wait for its report (:meth:`Background.report`); a wrk still running when the
    block ends, or fails, is stopped: no load is left behind."""
    run = Run.create(label)
    try:
        proc = start(run, url, connections, seconds, layout, log_name, delay_ms, headers, method)
        try:
            yield Background(proc, run.dir / "logs" / log_name, seconds)
        finally:
            if proc.poll() is None:
                stop_group(proc)
    finally:
        run.close()


def _wrk(run: Run, url, connections: int, seconds: int, layout: CpuLayout,
         log_name: str, delay_ms: int = 0, headers: dict[str, str] | None = None,
         method: str | tuple[str, ...] = "GET") -> tuple[str, float, float, int]:
    """Run wrk once; return its report, wall-clock start and end, and its pid."""
    log = run.dir / "logs" / log_name
    proc = start(run, url, connections, seconds, layout, log_name, delay_ms, headers, method)
    started = time.time()
    report = run_to_end(proc, log, seconds + 30, "wrk")
    return report, started, time.time(), proc.pid


def point(target, url, connections: int = 8, duration: int = 5, warmup: int = 2,
          layout: CpuLayout | None = None, variant: str = "", repeat: int = 0,
          headers: dict[str, str] | None = None, method: str | tuple[str, ...] = "GET",
          delay_ms: int = 0) -> dict:
    """One measured point of ``url`` (or of a tuple of URLs requested in turn) driven by wrk,
    as a row like Locust's; ``urls`` says how many URLs shared its requests. ``delay_ms``:
    each connection pauses that long after each response (a paced, lighter load)."""
    _check(url, connections, duration, warmup)
    check_int("delay_ms", delay_ms, 0, 60_000)
    methods_of(method, urls_of(url))
    tgt = as_target(target)
    layout = layout or tgt.layout or default_layout()
    run = Run.create("wrk")
    try:
        if warmup:
            _wrk(run, url, connections, warmup, layout, "wrk-warmup.log", delay_ms,
                 headers=headers, method=method)
        # wrk closes its connections when it stops, but requests it queued are still served:
        # start the measured run on idle servers, or their CPU counts against it
        wait_until_idle(layout.server)
        if tgt.hosts and tgt.throttled:  # a small host works through its backlog while
            wait_until_hosts_idle(tgt.throttled)  # the server CPUs look idle
        sampler = start_sampler(tgt, layout)
        try:
            report, t0, t1, _ = _wrk(run, url, connections, duration, layout, "wrk.log",
                                     delay_ms, headers=headers, method=method)
        finally:
            sampler.stop()
    finally:
        run.close()
    parsed = parse(report)
    seconds = parsed.pop("wrk_seconds")
    rec = {"variant": variant, "repeat": repeat, "users": connections, "generator": "wrk",
           "urls": len(urls_of(url)), "duration_s": seconds, **parsed}
    rec["req_s"] = rec["requests"] / seconds if seconds else math.nan
    rec["fail_ratio"] = rec["failures"] / rec["requests"] if rec["requests"] else math.nan
    # CPU over the measured run's wall-clock span (wrk's own start-up is a few ms of it)
    derive(rec, sampler.window(t0, t1), sampler.counters_window(t0, t1), layout,
           sampler.host_cores)
    rec["target"] = "stack" if tgt.components else tgt.url
    return rec


def url_of(target, variant):
    """The one URL of a single-page GET Workload (or a URL, or a tuple of URLs, as given)."""
    if isinstance(variant, (str, tuple)):
        return variant
    if not hasattr(variant, "all_pages") or len(variant.mix) != 1:
        raise ValueError("wrk drives one page: give a URL or a Workload with one page in its mix")
    (page,) = variant.mix
    method, path = variant.all_pages()[page]
    if method != "GET" or "{" in path:
        raise ValueError(f"wrk drives one fixed GET page, not {method} {path}")
    return path if path.startswith("http") else as_target(target).url + path


@replayable
def compare(target, variants: dict, connections: int | dict[str, int] = 8, duration: int = 5,
            warmup: int = 2, repeats: int = 1, layout: CpuLayout | None = None,
            on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Several single-page variants (URLs, tuples of URLs requested in turn, or one-page
    Workloads), interleaved
    (A B C A B C ...), one wrk point each. ``warmup`` runs before each variant's first
    window only: by its next repeat the app, the database and its cache entries are warm.

    ``connections`` is one number, or a dict giving each variant its own: what it takes to
    keep the server CPUs saturated differs by orders of magnitude between a page Django
    renders and one nginx serves from memory, and CPU per request is compared at saturation."""
    if not isinstance(variants, dict) or not variants:
        raise ValueError("variants must be a non-empty dict of name -> URL or one-page Workload")
    check_int("repeats", repeats, 1, 50)
    if isinstance(connections, dict) and set(connections) != set(variants):
        raise ValueError(f"connections as a dict must name every variant: {sorted(variants)}, "
                         f"not {sorted(connections)}")
    conns = connections if isinstance(connections, dict) else dict.fromkeys(variants, connections)
    urls = {name: url_of(target, v) for name, v in variants.items()}
    rows = []
    for repeat in range(repeats):
        for name, url in urls.items():
            rec = point(target, url, conns[name], duration, warmup if repeat == 0 else 0,
                        layout, name, repeat)
            keep(rows, rec, on_point)
    return done(rows, on_point)


@replayable
def calibrate(target, workload, users: int = 8, duration: int = 5, warmup: int = 2,
              repeats: int = 2, layout: CpuLayout | None = None,
              on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """The lab's Locust and wrk on the same single page, same users, interleaved.

    Returns their rows (column ``generator``: locust or wrk). Compare with
    :func:`agreement`.
    """
    from scalelab.load import run as locust_run

    url = url_of(target, workload)
    rows = []
    for repeat in range(repeats):
        lab = locust_run(target, workload, users=users, duration=duration, warmup=warmup,
                         layout=layout, progress=False, variant="locust")
        for rec in ({**lab.iloc[0].to_dict(), "generator": "locust", "repeat": repeat},
                    point(target, url, users, duration, warmup, layout, "wrk", repeat)):
            keep(rows, rec, on_point)
    return done(rows, on_point)


def agreement(df: pd.DataFrame) -> dict:
    """Locust's req/s over wrk's, per repeat and overall, and whether Locust's points were
    flagged (then a gap has a named cause)."""
    lab = df[df.generator == "locust"].set_index("repeat")
    ind = df[df.generator == "wrk"].set_index("repeat")
    ratios = (lab["req_s"] / ind["req_s"]).dropna()
    return {"ratio": float(ratios.median()) if len(ratios) else math.nan,
            "ratio_min": float(ratios.min()) if len(ratios) else math.nan,
            "ratio_max": float(ratios.max()) if len(ratios) else math.nan,
            "locust_limits": sorted(set(lab["limit"])), "wrk_limits": sorted(set(ind["limit"])),
            "locust_flagged": bool((lab["limit"] != "server").any())}
