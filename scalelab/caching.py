"""Workloads and probes of the caching notebook (02), so its cells stay one line each.

The app's caching variants live in ``benchmark_app/qa/caching.py``; these helpers name them as
Workloads, derive the cost of one cache operation from probe runs, and count stale reads.
Every variant addresses the app server directly (``stack.app_url``), so a proxy in front of the
stack, with its own cache, never answers for the app; only the nginx variant goes through it.
"""

from __future__ import annotations

import json
import math
import urllib.request
from typing import Sequence

import pandas as pd

from .load import Workload
from .services.appserver import http_get

BACKENDS = ("locmem", "redis", "memcached", "db")
TTLS = (1, 2, 5, 10, 30, 60, 300, 3600)  # the app's qa.caching.TTLS: the ?ttl= it accepts


def _check_ttl(ttl) -> int:
    if ttl not in TTLS:
        raise ValueError(f"ttl must be one of {TTLS} (what the app accepts), not {ttl!r}")
    return ttl


def _page(name: str, path: str, method: str = "GET") -> Workload:
    return Workload(name, mix={"page": 1.0}, pages={"page": (method, path)})


def where_to_cache(stack) -> dict[str, Workload]:
    """The home page: uncached, and cached by each layer the app has (nginx when present)."""
    app = stack.app_url
    variants = {
        "no cache": _page("no cache", f"{app}/"),
        "queryset": _page("queryset", f"{app}/c/queryset/"),
        "fragment": _page("fragment", f"{app}/c/fragment/"),
        "view": _page("view", f"{app}/c/view/"),
    }
    if "proxy" in stack.services and stack.config["microcache_ttl"]:
        variants["nginx microcache"] = _page("nginx microcache", stack.base_url + "/")
    return variants


def backend_probes(stack, backends: Sequence[str], ops_per_request: int = 20
                   ) -> dict[str, Workload]:
    """One variant per (backend, hit|miss), plus 'none': the same request without cache ops."""
    n, app = ops_per_request, stack.app_url
    variants = {"none": _page("none", f"{app}/c/probe/?op=none&n={n}")}
    for b in backends:
        for op in ("hit", "miss"):
            variants[f"{b} {op}"] = _page(f"{b} {op}",
                                          f"{app}/c/probe/?backend={b}&op={op}&n={n}")
    return variants


def cost_per_operation(df: pd.DataFrame, ops_per_request: int) -> pd.DataFrame:
    """Server CPU microseconds of one cache hit and one miss, per backend, from probe rows.

    (CPU per request of the probe - CPU per request of 'none') / operations per request,
    counted for every server (app, db, cache): where the work happens depends on the backend.
    """
    mean = df.groupby("variant")["cpu_ms_per_req_server"].agg(["mean", "min", "max"])
    base = mean.loc["none"]
    rows = []
    for variant in mean.index.drop("none"):
        backend, op = variant.rsplit(" ", 1)
        part = df[df.variant == variant]
        comp = {c: (part[f"cpu_ms_per_req_{c}"].mean()
                    - df[df.variant == "none"][f"cpu_ms_per_req_{c}"].mean())
                * 1000 / ops_per_request for c in ("app", "db", "cache")}
        rows.append({"backend": backend, "operation": op,
                     "us_per_op": (mean.loc[variant, "mean"] - base["mean"]) * 1000
                     / ops_per_request,
                     "us_per_op_min": (mean.loc[variant, "min"] - base["max"]) * 1000
                     / ops_per_request,
                     "us_per_op_max": (mean.loc[variant, "max"] - base["min"]) * 1000
                     / ops_per_request,
                     **{f"us_{c}": v for c, v in comp.items()}})
    return pd.DataFrame(rows)


def ttl_variants(stack, ttls: Sequence[int]) -> dict[str, Workload]:
    """Question pages, popular ones more often (Zipf), cached for each TTL."""
    for t in ttls:
        _check_ttl(t)
    return {f"ttl {t}s": _page(f"ttl {t}s", f"{stack.app_url}/c/q/{{qid}}/?ttl={t}")
            for t in ttls}


def question_pages(stack, ttls: Sequence[int]) -> dict[str, Workload]:
    """Question pages with Zipf popularity: uncached, and behind the per-view cache for each
    TTL (the baseline in the same comparison, so the gain is a within-run ratio)."""
    return {"uncached": _page("uncached", f"{stack.app_url}/q/{{qid}}/"),
            **ttl_variants(stack, ttls)}


def steady_state_warmups(ttls: Sequence[int], base: float) -> dict[str, float]:
    """Warm-up per variant of ``question_pages``: one TTL for each cached variant (by then
    its first entries expire and it is in its steady state), ``base`` for the uncached one."""
    return {"uncached": base, **{f"ttl {t}s": float(max(base, _check_ttl(t))) for t in ttls}}


def write_share_variants(stack, write_shares: Sequence[float], ttl: int = 5
                         ) -> dict[str, Workload]:
    """Reads of cached question pages mixed with votes that invalidate what they change."""
    _check_ttl(ttl)
    if len(write_shares) > 8:
        raise ValueError("at most 8 write shares (each gets a cache namespace of its own)")
    out = {}
    for share, ns in zip(write_shares, "abcdefgh"):
        if not 0 <= share < 1:
            raise ValueError(f"write shares must be from 0 to below 1, not {share!r}")
        mix = {"read": 1 - share}
        if share:
            mix["vote"] = share
        # each variant its own namespace of cache entries: every one starts cold, none
        # inherits a cache warmed by the variant before it
        out[f"{share:.0%} writes"] = Workload(
            f"{share:.0%} writes", mix=mix,
            pages={"read": ("GET", f"{stack.app_url}/c/q/{{qid}}/?ttl={ttl}&ns={ns}"),
                   "vote": ("POST", f"{stack.app_url}/api/questions/{{qid}}/vote/?ns={ns}")})
    return out


def stampede_variants(stack, ttl: int = 1) -> dict[str, Workload]:
    """A hot, expensive entry that expires every ``ttl`` s: plain get_or_set vs. a lock."""
    _check_ttl(ttl)
    app = stack.app_url
    return {"get_or_set": _page("get_or_set", f"{app}/c/toptags/naive/?ttl={ttl}"),
            "lock + stale": _page("lock + stale", f"{app}/c/toptags/locked/?ttl={ttl}")}


def count_stale_reads(stack, backend: str, trials: int = 10, reads: int = 8) -> dict:
    """Read a question through fresh connections, vote on it, read again: count the reads
    whose score differs from the database's. A per-process cache (locmem) serves the old score
    from every worker the write did not pass through; a shared cache serves none."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if not (isinstance(trials, int) and trials >= 1 and isinstance(reads, int) and reads >= 1):
        raise ValueError("trials and reads must be whole numbers of 1 or more")
    base = stack.app_url
    ids = stack.popularity()["question_ids"]
    stale = total = 0
    for trial in range(trials):
        qid = ids[trial]
        url = f"{base}/c/api/q/{qid}/?backend={backend}"
        for _ in range(reads):  # warm every worker's copy
            http_get(url)
        req = urllib.request.Request(f"{base}/api/questions/{qid}/vote/?backend={backend}",
                                     method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
        truth = stack.db.query("SELECT score FROM qa_question WHERE id = %s", (qid,),
                               dbname=stack.dataset.db_name)[0][0]
        for _ in range(reads):
            status, _, body = http_get(url)
            total += 1
            if status != 200 or json.loads(body)["score"] != truth:
                stale += 1
    return {"backend": backend, "workers": stack.config["workers"], "reads": total,
            "stale_reads": stale, "stale_share": stale / total if total else math.nan}
