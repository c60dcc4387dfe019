"""What limited a measured point, and which points may decide a verdict.

Every point gets a ``limit``:

- ``failures``: more than ``FAILED`` of its requests failed; its figures measure errors.
- ``server``: the server CPUs were at least ``SERVER_BUSY`` busy, and at least
  ``SERVER_OWN`` of their time went to the servers' own process trees. Only such a point
  shows the servers' capacity, and only there is CPU per request free of idle overheads
  (poll loops, background work spread over few requests). This holds however busy the
  generator was: with at most a twentieth of the server CPUs idle, a faster generator could
  not have got more than that through. In the scale model, where each server runs in a host
  with a CPU quota (``scalelab.plumbing.hosts``), a host that used at least ``HOST_BUSY`` of
  its quota is such a server too: the quota, not the CPUs, was its limit (``busiest_host``
  names it).
- ``generator``: the server CPUs were not saturated and the generator's CPUs (every process
  on them, not only Locust) were at least ``GENERATOR_SATURATED`` busy; its req/s says more
  about Locust than about Django.
- ``one user``: not a load point: one simulated browser or client, timing what one visitor
  sees (a page load over a link, a page's response time). It says nothing about capacity and
  may decide only rules about what a visitor waits for.
- ``rate``: an open load's point (``scalelab.load.open_rate``) whose servers kept up and whose
  generator kept to its schedule: the offered rate set its load, by design below capacity. It
  shows what the servers do at that rate (utilisation, latency), never a capacity.
- ``unexplained``: none of these. Something else held it back: client-side latency, too few
  users, a lock, a pool, or a foreign process on the server CPUs. Shown, flagged
  ``unexplained_limit``, never used for a capacity or cost verdict.

Why these thresholds. Busy is measured on the server CPUs themselves (``/proc/stat``), so it
includes the kernel's network work done for the servers, which no process is charged for (at
20,000 requests a second through nginx, about a tenth of the CPU). At 95% busy at most a
twentieth of the capacity was idle, about the spread of a cost ratio between repeats; a point
with more idle time had a limit elsewhere. Seen here: Locust on a cached page left the
server CPU 90% busy and an independent generator (wrk) then got 12% more requests through
the same stack, so 90% is not enough. The servers' own share (75%) keeps a point where a
foreign process took the server CPU from passing as server-bound. Without a CPU-set reading,
the servers' own share must reach 95% alone.
"""

from __future__ import annotations

import math

import pandas as pd

SERVER_BUSY = 0.95          # busy share of the server CPUs from which a point is server-bound
SERVER_OWN = 0.75           # ... of which at least this share in the servers' own processes
GENERATOR_SATURATED = 0.80  # generator CPU-set load from which a point is generator-bound
FAILED = 0.01               # share of failed requests above which a point is failed
# a host of the scale model used this share of its CPU quota: the kernel throttled it in
# nearly every period of the window (the quota is enforced per 10-ms period, exactly; the
# gap to 1 is the sampler's, which reads process trees every quarter second)
HOST_BUSY = 0.90

LIMITS = ("server", "generator", "failures", "unexplained", "one user", "rate")
RATE = "rate"  # the limit of an open load's point that kept to its offered rate (see above)
ONE_USER = "one user"  # the limit of a visitor's timing, not a load point (see above)
POINTS = {
    "server-bound": "server-bound points only (server CPUs ≥ {:.0%} busy, ≥ {:.0%} of it the "
                    "servers' own work, failures ≤ {:.0%})".format(SERVER_BUSY, SERVER_OWN,
                                                                  FAILED),
    "stated load": "points at the load the rule states, whatever limited them, except those "
                   "limited by the generator or by failures",
    "one user": "one visitor's timings (one simulated browser, no other load), none with a "
                "failed request",
}


def limit(server_cpu_util: float, generator_load: float, fail_ratio: float,
          server_cpus_busy: float = math.nan, busiest_host_util: float = math.nan) -> str:
    """What limited a point: from its servers' own CPU use, the generator's load, the share of
    failed requests, how busy the server CPUs were (all shares of the CPUs given), and in the
    scale model the busiest host's use of its quota."""
    if isinstance(fail_ratio, float) and not math.isnan(fail_ratio) and fail_ratio > FAILED:
        return "failures"
    if server_saturated(server_cpu_util, server_cpus_busy):
        return "server"
    if not math.isnan(busiest_host_util) and busiest_host_util >= HOST_BUSY:
        return "server"
    if not math.isnan(generator_load) and generator_load >= GENERATOR_SATURATED:
        return "generator"
    return "unexplained"


def server_saturated(server_cpu_util: float, server_cpus_busy: float = math.nan) -> bool:
    """The server CPUs were at least SERVER_BUSY busy, mostly with the servers' own work
    (without a CPU-set reading, the servers' own share must reach SERVER_BUSY alone)."""
    if math.isnan(server_cpu_util):
        return False
    if math.isnan(server_cpus_busy):
        return server_cpu_util >= SERVER_BUSY
    return server_cpus_busy >= SERVER_BUSY and server_cpu_util >= SERVER_OWN


def flags(rec: dict, lim: str | None = None) -> dict:
    """The limit of a measured point and its flags, to merge into the point's row (``lim``
    when the caller knows more, as an open load does: see ``RATE``)."""
    if lim is None:
        lim = limit(rec.get("server_cpu_util", math.nan), rec.get("generator_load", math.nan),
                    rec.get("fail_ratio", math.nan), rec.get("server_cpus_busy", math.nan),
                    rec.get("busiest_host_util", math.nan))
    elif lim not in LIMITS:
        raise ValueError(f"lim must be one of {', '.join(LIMITS)}, not {lim!r}")
    return {"limit": lim, "server_bound": lim == "server",
            # the method's flag, shown beside the limit: a server-bound point may carry it
            # (both were busy; the server had no capacity left, so it is still server-bound)
            "generator_saturated": lim == "generator"
            or rec.get("generator_load", 0) >= GENERATOR_SATURATED,
            "failed": lim == "failures", "unexplained_limit": lim == "unexplained"}


def usable(df: pd.DataFrame, points: str = "server-bound") -> pd.DataFrame:
    """The rows that may decide a verdict of the given kind (see ``POINTS``)."""
    if points not in POINTS:
        raise ValueError(f"points must be one of {', '.join(POINTS)}, not {points!r}")
    if df.empty:
        return df
    if "limit" not in df.columns:
        raise ValueError("rows have no 'limit' column: measure them with this version of the "
                         "harness (scalelab.load) before deciding a verdict on them")
    if points == "server-bound":
        return df[df["limit"] == "server"]
    if points == "one user":
        return df[df["limit"] == ONE_USER]
    return df[~df["limit"].isin(("generator", "failures", ONE_USER))]


def one_user_limit(failed: int) -> str:
    """The limit of a visitor's timing: ``one user``, or ``failures`` if a request failed."""
    return "failures" if failed else ONE_USER


def worst_limit(limits: pd.Series) -> str:
    """The limit to mark for a group of repeats: any flagged repeat marks the group."""
    for lim in ("failures", "generator", "unexplained"):
        if (limits == lim).any():
            return lim
    return ONE_USER if len(limits) and (limits == ONE_USER).all() else "server"


def summary(df: pd.DataFrame, by: str = "variant") -> pd.DataFrame:
    """How many points of each group were limited by what (for a table beside a verdict)."""
    if df.empty or "limit" not in df.columns:
        return pd.DataFrame()
    keys = [by] if by in df.columns else []
    return (df.groupby(keys + ["limit"], sort=False).size().unstack(fill_value=0)
            .reindex(columns=list(LIMITS), fill_value=0))
