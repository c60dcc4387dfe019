"""A measured point's row: its columns with units (``COLUMNS``, the one declaration of the
schema), the figures derived from a window's CPU time and counters, and the frame of rows.

Locust's and wrk's points both pass through ``derive``, so their rows read alike.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import pandas as pd

from scalelab.measurement import limits
from scalelab.plumbing.cpus import CpuLayout
from scalelab.measurement.cpu_sampler import CpuSampler
from scalelab.measurement.target import Target

COMPONENTS = ("app", "db", "cache", "proxy", "upstream", "replica", "pooler")  # server trees, by role


@dataclass(frozen=True)
class Column:
    """One column of a point's row: its unit and what it means."""

    unit: str
    meaning: str


COLUMNS: dict[str, Column] = {
    "variant": Column("", "name of the variant in a comparison ('' in a sweep)"),
    "workload": Column("", "name of the Workload"),
    "repeat": Column("", "which repeat of the comparison or sweep, from 0"),
    "users": Column("users", "simulated users (Locust) or open connections (wrk)"),
    "generator": Column("", "the load generator: locust, wrk, or open (scalelab.load.open_rate)"),
    "offered_rate": Column("requests/s", "an open load's arrival rate (Poisson), whatever the "
                                         "server does"),
    "offered": Column("requests", "an open load's requests intended in the window"),
    "late_share": Column("share", "an open load's requests sent over 20 ms after their "
                                  "intended time, or never: the generator fell behind"),
    "unsent": Column("requests", "an open load's requests intended in the window that no "
                                 "connection came free for (it holds at most 1,000)"),
    "latency_n": Column("requests", "latencies the percentiles of an open load's window are "
                                    "computed from (its requests intended there and "
                                    "answered; other rows: ``requests``)"),
    "in_flight_mean": Column("requests", "an open load's requests in flight, time-averaged "
                                         "over the window (the generator's own count)"),
    "req_s": Column("requests/s", "completed requests per second in the window"),
    "limit": Column("", "what limited the point: server, generator, failures, unexplained, "
                        "one user, or rate (an open load at its offered rate)"),
    "p50_ms": Column("ms", "median latency in the window"),
    "p75_ms": Column("ms", "75th percentile latency in the window (wrk only)"),
    "p90_ms": Column("ms", "90th percentile latency in the window"),
    "p99_ms": Column("ms", "99th percentile latency in the window"),
    "mean_ms": Column("ms", "mean latency in the window"),
    "max_ms": Column("ms", "largest latency in the window"),
    "failures": Column("requests", "failed requests in the window"),
    "requests": Column("requests", "completed requests in the window"),
    "fail_ratio": Column("share", "failed ÷ completed requests"),
    "duration_s": Column("s", "length of the measured window (warm-up excluded)"),
    "think_s": Column("s", "mean think time between a user's requests"),
    **{f"cpu_ms_per_req_{c}": Column("ms", f"CPU of the {c} server processes per request")
       for c in COMPONENTS},
    "cpu_ms_per_req_server": Column("ms", "CPU of all server processes per request: the "
                                          "headline figure"),
    "server_cpu_util": Column("share", "the servers' own CPU time ÷ the server CPUs' time"),
    "server_cpus_busy": Column("share", "busy share of the server CPUs, by anything"),
    "generator_cpu_ms_per_req": Column("ms", "the generator's own CPU per request"),
    "locust_cpu_load": Column("share", "the generator's own CPU time ÷ the generator CPUs' time"),
    "generator_load": Column("share", "busy share of the generator CPUs, by anything"),
    "server_bound": Column("bool", "limit is server: the point may decide a capacity verdict"),
    "generator_saturated": Column("bool", "the generator CPUs were saturated"),
    "failed": Column("bool", "limit is failures"),
    "unexplained_limit": Column("bool", "limit is unexplained"),
    "db_statements_per_req": Column("statements", "SQL statements PostgreSQL ran per request"),
    "littles_law_users": Column("users", "req/s × (mean latency + think time): an identity "
                                         "from the generator's own figures, shown to teach"),
    "locust_history_requests": Column("requests", "requests in the window by Locust's own "
                                                  "cumulative history (a cross-check)"),
    "app_rss_mb_per_worker": Column("MB", "resident memory of one app worker at the end"),
    "app_rss_mb_total": Column("MB", "resident memory of the app server, all processes"),
    "pages": Column("", "requests per page in the window (JSON)"),
    "window_start": Column("s", "start of the window (Unix time, whole seconds)"),
    "window_end": Column("s", "end of the window (Unix time, whole seconds)"),
    "generator_processes": Column("processes", "Locust worker processes"),
    "step": Column("", "index of the step within its Locust run"),
    "locust_dir": Column("", "where the run's Locust output and logs are"),
    "target": Column("", "'stack' or the external URL"),
    "host_*_util": Column("share", "CPU time of one host of the scale model (the kernel's "
                          "count for its control group) ÷ its quota over the window (1: the "
                          "host used all it may)"),
    "busiest_host": Column("", "the host of the scale model that used most of its quota"),
    "busiest_host_util": Column("share", "that host's CPU time ÷ its quota"),
    "*_hit_ratio": Column("share", "hits ÷ (hits + misses) from a server's own counters "
                                   "(redis, memcached, nginx)"),
}
FIRST_COLUMNS = ["variant", "workload", "repeat", "users", "req_s", "limit", "p50_ms", "p90_ms",
                 "p99_ms", "mean_ms", "failures", "requests", "duration_s"]
FAILURE_WARNING = 0.01  # a point where more requests failed than this is reported


def describe_columns() -> str:
    """docs/columns.md: the column list as a markdown page (``scalelab columns`` prints it)."""
    rows = [f"| `{name}` | {col.unit} | {col.meaning} |" for name, col in COLUMNS.items()]
    return "\n".join([
        "# Columns of a measured point", "",
        "Every row that `sweep`, `run`, `compare` and `scalelab.load.wrk` return, and every CSV under",
        "`data/results/`, has these columns. They are declared once, in",
        "`scalelab/measurement/point.py` (`COLUMNS`); this page is generated from it",
        "(`.venv/bin/python -m scalelab columns > docs/columns.md`). Server counters add",
        "columns of their own (`redis_hits`, `db_statements`, ...), and an experiment's helpers",
        "may add the variables it sweeps (`config`, `workers`, `threads`, ...).", "",
        "| column | unit | meaning |", "|---|---|---|", *rows]) + "\n"


def start_sampler(target: Target, layout: CpuLayout,
                  roots: dict[str, list[int]] | None = None) -> CpuSampler:
    """Sample what a point's figures come from: the server process trees (and any extra
    ``roots``), the busy time of the server and generator CPUs, the servers' counters."""
    trees = dict(roots if roots is not None else target.components)
    trees.update({f"host_{key}": pids for key, (pids, _) in target.hosts.items()
                  if key not in target.host_meters})
    return CpuSampler(trees, cpu_sets={"generator": layout.generator, "server": layout.server},
                      counters=dict(target.counters),
                      meters={f"host_{key}": read for key, read in target.host_meters.items()},
                      host_cores={f"host_{key}": cores
                                  for key, (_, cores) in target.hosts.items()}).start()


def _per_request(seconds_of_cpu: float, n: int) -> float:
    return seconds_of_cpu * 1000 / n if n else math.nan


def derive(rec: dict, cpu: dict[str, float], counters: dict[str, float],
           layout: CpuLayout, host_cores: dict[str, float] | None = None) -> dict:
    """Add a window's derived figures to ``rec`` (which has requests, duration_s, req_s,
    fail_ratio): CPU-ms per request by component, server and generator load, each host's use
    of its quota (``host_cores``: the sampler's, in the scale model), hit ratios from any
    ``*_hits``/``*_misses`` counter pair, statements per request, and what limited it."""
    n, seconds = rec["requests"], rec["duration_s"]
    host_use = {root[5:]: cpu.get(root, 0.0) / seconds / cores
                for root, cores in (host_cores or {}).items() if seconds}
    for key, use in host_use.items():
        rec[f"host_{key}_util"] = use
    if host_use:
        rec["busiest_host"] = max(host_use, key=host_use.get)
        rec["busiest_host_util"] = host_use[rec["busiest_host"]]
    for comp in COMPONENTS:
        rec[f"cpu_ms_per_req_{comp}"] = _per_request(cpu.get(comp, 0.0), n)
    server_cpu_s = sum(cpu.get(c, 0.0) for c in COMPONENTS)
    rec["cpu_ms_per_req_server"] = _per_request(server_cpu_s, n)
    rec["server_cpu_util"] = server_cpu_s / seconds / len(layout.server)
    # busy share of the server CPUs by anything (servers, kernel, harness): a gap to
    # server_cpu_util means something else ran there
    rec["server_cpus_busy"] = cpu.get("cpuset_server", math.nan) / seconds / len(layout.server)
    gen_s = cpu.get("generator", math.nan)
    rec["generator_cpu_ms_per_req"] = _per_request(gen_s, n)
    rec["locust_cpu_load"] = gen_s / seconds / len(layout.generator)
    # the generator's load is its whole CPU set: the generator, the harness and the kernel's
    # network work all compete for it (falls back to the generator's tree if unreadable)
    set_s = cpu.get("cpuset_generator", math.nan)
    rec["generator_load"] = (set_s if not math.isnan(set_s) else gen_s) / seconds \
        / len(layout.generator)
    rec.update(counters)
    rec.update(hit_ratios(counters))
    if "db_statements" in counters and n:
        rec["db_statements_per_req"] = counters["db_statements"] / n
    rec.update(limits.flags(rec))
    return rec


def hit_ratios(counters: dict[str, float]) -> dict[str, float]:
    """``<name>_hit_ratio`` for every ``<name>_hits`` / ``<name>_misses`` pair of counters."""
    out = {}
    for key in counters:
        stem = key[:-len("_hits")]
        if key.endswith("_hits") and f"{stem}_misses" in counters:
            h, m = counters[key], counters[f"{stem}_misses"]
            out[f"{stem}_hit_ratio"] = h / (h + m) if h + m > 0 else math.nan
    return out


def frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as a DataFrame, the columns a reader looks at first in front."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    cols = [c for c in FIRST_COLUMNS if c in df.columns]
    return df[cols + [c for c in df.columns if c not in cols]]


def warn_failures(df: pd.DataFrame) -> None:
    """Say it loudly when requests failed: a failing page can look fast."""
    if df.empty or "fail_ratio" not in df:
        return
    bad = df[df["fail_ratio"] > FAILURE_WARNING]
    if len(bad):
        where = ", ".join(f"{r.get('variant') or r['users']} users={r['users']}: "
                          f"{r['fail_ratio']:.0%}" for _, r in bad.iterrows())
        warnings.warn(f"requests failed at {len(bad)} point(s) ({where}); their figures "
                      f"measure errors, not pages. See the Locust log in each row's locust_dir.",
                      stacklevel=3)
