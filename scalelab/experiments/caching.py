"""Workloads and probes of the caching notebook (02), so its cells stay one line each.

The app's caching variants live in ``benchmark_app/qa/caching.py``; these helpers name them as
Workloads, derive the cost of one cache operation from probe runs, and count stale reads.
Every variant addresses the app server directly (``stack.app_url``), so a proxy in front of the
stack, with its own cache, never answers for the app; only the nginx variant goes through it.
"""

from __future__ import annotations

import json
import math
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from scalelab.load import Workload, wrk
from scalelab.measurement import limits
from scalelab.plumbing.checks import check_int, check_number
from scalelab.plumbing.cpus import CpuLayout
from scalelab.plumbing.numbers import figure_text, fmt
from scalelab.results.reference import replayable
from scalelab.results import done, keep
from scalelab.verdicts.rule import Criterion, Estimate
from scalelab.plumbing import http
from scalelab.plumbing.http import http_get

BACKENDS = ("locmem", "redis", "memcached", "db")
TTLS = (0, 1, 2, 5, 10, 30, 60, 300, 3600)  # the app's qa.cache_keys.TTLS: the ?ttl= it accepts


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


def connections_for(variants: dict, django: int, proxy: int) -> dict[str, int]:
    """wrk's connections per variant of ``where_to_cache``: ``django`` for the pages Django
    serves (enough to keep its workers busy, few enough to drain fast after a window),
    ``proxy`` for nginx's microcache, which needs far more requests in flight to saturate."""
    return {name: proxy if name == "nginx microcache" else django for name in variants}


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
    Only server-bound rows count. A probe, or the 'none' baseline, without one gets NaN and
    says so in ``note``: a row of the table, never a missing key.
    """
    if isinstance(ops_per_request, bool) or not isinstance(ops_per_request, int) \
            or ops_per_request < 1:
        raise ValueError(f"ops_per_request must be a whole number of at least 1, not "
                         f"{ops_per_request!r}")
    valid = df[df["server_bound"]] if "server_bound" in df.columns else df
    base = valid[valid.variant == "none"]
    per_op = lambda a, b: (a - b) * 1000 / ops_per_request  # noqa: E731 (ms -> µs per op)
    col = "cpu_ms_per_req_server"
    rows = []
    for variant in [v for v in dict.fromkeys(df.variant) if v != "none"]:
        backend, op = variant.rsplit(" ", 1)
        part = valid[valid.variant == variant]
        row = {"backend": backend, "operation": op, "points": len(part),
               "baseline_points": len(base), "note": ""}
        if part.empty or base.empty:
            row["note"] = "no server-bound point of " + (
                "the 'none' baseline" if base.empty else "this probe")
        row.update({"us_per_op": per_op(part[col].mean(), base[col].mean()),
                    "us_per_op_min": per_op(part[col].min(), base[col].max()),
                    "us_per_op_max": per_op(part[col].max(), base[col].min())})
        row.update({f"us_{c}": per_op(part[f"cpu_ms_per_req_{c}"].mean(),
                                      base[f"cpu_ms_per_req_{c}"].mean())
                    for c in ("app", "db", "cache")})
        rows.append(row)
    return pd.DataFrame(rows)


def describe_operation_costs(per_op: pd.DataFrame, uncached_page_ms: float) -> str:
    """One paragraph on the cost of a cache hit per backend, against an uncached page's CPU,
    or why it could not be measured in this run."""
    hits = per_op[per_op.operation == "hit"].set_index("backend")["us_per_op"].dropna()
    if hits.empty:
        return ("No cache hit could be costed in this run: the probes, or their `none` "
                "baseline, had no server-bound point (see the table above). Rerun the cell; "
                "in full mode every probe is repeated.")
    fastest, slowest = hits.idxmin(), hits.idxmax()
    share = hits.max() / (uncached_page_ms * 1000)
    missing = sorted(set(per_op.backend) - set(hits.index))
    return (f"One hit costs about **{fmt(hits[fastest])} µs** of server CPU in {fastest} and "
            f"**{fmt(hits[slowest])} µs** in {slowest}: even the dearest is {share:.1%} of "
            f"the {fmt(uncached_page_ms * 1000, 3)} µs of an uncached home page"
            + (". The backend matters far less than *what* is cached." if share < 0.1 else
               ", not negligible: the backend choice matters here.")
            + (f" Not costed in this run (no server-bound point): {', '.join(missing)}."
               if missing else ""))


def ttl_variants(stack, ttls: Sequence[int]) -> dict[str, Workload]:
    """Question pages, popular ones more often (Zipf), cached for each TTL."""
    for t in ttls:
        _check_ttl(t)
    return {f"ttl {t}s": _page(f"ttl {t}s", f"{stack.app_url}/c/q/{{qid}}/?ttl={t}")
            for t in ttls}


def question_pages(stack, ttls: Sequence[int]) -> dict[str, Workload]:
    """Question pages with Zipf popularity: uncached, and with their data (question, answers)
    in Django's cache for each TTL, the template rendered on every request (the baseline in
    the same comparison, so the gain is a within-run ratio)."""
    return {"uncached": _page("uncached", f"{stack.app_url}/q/{{qid}}/"),
            **ttl_variants(stack, ttls)}


HIT_MISS = ("uncached", "every read hits", "every read misses")  # hit_and_miss_pages's variants


def hit_and_miss_pages(stack, pages: int = 16, seed: int = 1) -> dict[str, tuple[str, ...]]:
    """Question pages drawn with the traffic's own Zipf law (seeded: the same pages every
    run), requested in turn three ways, for wrk: uncached; behind the question cache with
    every read hitting (an hour's TTL, filled by the first point's warm-up); and with every
    read missing (``ttl=0``: read, miss, query, render, store nothing). The cached question
    page caches the page's data, not the page: a hit still renders the template."""
    ids = stack.popularity()["question_ids"]
    if not (isinstance(pages, int) and not isinstance(pages, bool) and 1 <= pages <= 256):
        raise ValueError(f"pages must be a whole number from 1 to 256, not {pages!r}")
    weights = np.array([1.0 / r for r in range(1, len(ids) + 1)])  # Workload's zipf_s = 1
    rng = np.random.default_rng(seed)
    drawn = [ids[i] for i in rng.choice(len(ids), size=pages, p=weights / weights.sum())]
    app = stack.app_url
    return {"uncached": tuple(f"{app}/q/{q}/" for q in drawn),
            "every read hits": tuple(f"{app}/c/q/{q}/?ttl=3600&ns=h" for q in drawn),
            "every read misses": tuple(f"{app}/c/q/{q}/?ttl=0" for q in drawn)}


@replayable
def hit_and_miss(stack, pages: int = 16, connections: int = 16, duration: int = 5,
                 warmup: int = 2, repeats: int = 1, layout: CpuLayout | None = None,
                 on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """``hit_and_miss_pages`` measured with wrk, the three ways interleaved in each repeat;
    the first point's warm-up fills the hit variant's entries."""
    return wrk.compare(stack, hit_and_miss_pages(stack, pages), connections=connections,
                       duration=duration, warmup=warmup, repeats=repeats, layout=layout,
                       on_point=on_point)


def predicted_saving(hit_miss: pd.DataFrame, question_pages: pd.DataFrame,
                     cached: str) -> pd.DataFrame:
    """Per repeat of ``question_pages`` (the Locust comparison): the saving of ``cached`` that
    its hit ratio predicts from what a hit and a miss cost (``hit_miss``, wrk, server-bound
    points; as shares of an uncached page, averaged over its repeats), beside the saving
    measured: 1 ÷ (hits × hit share + misses × miss share). Hit and miss shares come from
    other requests than the saving, so the two can disagree."""
    hm = limits.usable(hit_miss, "server-bound")
    cost = hm.groupby("variant").cpu_ms_per_req_server.mean()
    if not all(v in cost for v in HIT_MISS):
        return pd.DataFrame()
    hit_share = cost["every read hits"] / cost["uncached"]
    miss_share = cost["every read misses"] / cost["uncached"]
    q = limits.usable(question_pages, "server-bound")
    rows = []
    for repeat, rep in q.groupby("repeat"):
        base, c = rep[rep.variant == "uncached"], rep[rep.variant == cached]
        if base.empty or c.empty:
            continue
        h = float(c.redis_hit_ratio.mean())
        rows.append({"repeat": repeat, "hit_ratio": h, "hit_cost_share": hit_share,
                     "miss_cost_share": miss_share,
                     "predicted_saving": 1 / (h * hit_share + (1 - h) * miss_share),
                     "free_hits_bound": 1 / (1 - h) if h < 1 else math.inf,
                     "measured_saving": float(base.cpu_ms_per_req_server.mean()
                                              / c.cpu_ms_per_req_server.mean())})
    return pd.DataFrame(rows)


# stated before the data: the saving measured is within a quarter either way of the one the
# costs of a hit and a miss predict, in every repeat (one repeat widened by the lab's band)
EXPLAINED = (0.8, 1.25)


def saving_explained(pred: pd.DataFrame) -> str:
    """Whether what a hit and a miss cost accounts for the saving measured (``predicted_saving``
    rows): 'pass', 'fail', 'straddle' (the spread crosses a bound of ``EXPLAINED``) or
    'no data', as a rule's criterion decides."""
    if pred.empty:
        return "no data"
    ratio = Estimate(list(pred.measured_saving / pred.predicted_saving))
    return Criterion("measured ÷ predicted saving", "between", EXPLAINED).check(ratio)


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


STAMPEDE_SHARE = 0.5  # the open load's rate: this share of what the plain get_or_set page
                      # served under the closed load, a rate it can serve on average


def stampede_rate(closed: pd.DataFrame, share: float = STAMPEDE_SHARE) -> float:
    """The arrival rate of :func:`stampede_open`, requests/s: ``share`` of the plain
    ``get_or_set`` page's throughput under the closed load (median over repeats)."""
    part = closed[closed.variant == "get_or_set"] if "variant" in closed else closed.iloc[0:0]
    if part.empty or not part.req_s.median() > 0:
        raise ValueError("closed must hold the stampede's get_or_set rows with a throughput "
                         "(the compare of stampede_variants)")
    check_number("share", share, 0, 1, low_open=True)
    return float(share * part.req_s.median())


@replayable
def stampede_open(stack, variants: dict[str, Workload], rate: float, duration: int = 4,
                  warmup: int = 1, repeats: int = 1, layout: CpuLayout | None = None,
                  on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Each of ``variants`` (:func:`stampede_variants`) under open arrivals (Poisson) at the
    same ``rate`` (:func:`stampede_rate`), the variants interleaved within each repeat. Adds
    ``expensive_queries_per_s`` (the vote count's executions, PostgreSQL's own count)."""
    from scalelab.load import open_rate

    if not variants:
        raise ValueError("variants must name at least one stampede page")
    check_int("repeats", repeats, 1, 50)
    rows: list[dict] = []
    for repeat in range(repeats):
        for name, workload in variants.items():
            rec = open_rate.point(stack, wrk.url_of(stack, workload), rate, duration, warmup,
                                  layout, name, repeat, seed=1 + repeat)
            rec["expensive_queries_per_s"] = (rec.get("db_vote_count_queries", math.nan)
                                              / rec["duration_s"])
            keep(rows, rec, on_point)
    return done(rows, on_point)


def stampede_latency(arrivals: pd.DataFrame) -> dict:
    """What :func:`stampede_open`'s rows say (medians over repeats): each page's p50 and p99,
    the plain page's over the locked one's, and the sentence that fits them: the stampede
    shows "in the tail" when it multiplied the p99 more than the median, "in most requests"
    when it multiplied the median more (a recomputation long enough that a good part of each
    second's arrivals queue behind it)."""
    m = arrivals.groupby("variant")[["p50_ms", "p99_ms", "expensive_queries_per_s"]].median()
    if not {"get_or_set", "lock + stale"} <= set(m.index):
        raise ValueError("arrivals must hold both stampede pages' rows (stampede_open)")
    plain, locked = m.loc["get_or_set"], m.loc["lock + stale"]
    p50_x, p99_x = plain.p50_ms / locked.p50_ms, plain.p99_ms / locked.p99_ms
    if p99_x >= p50_x:
        where = ("A stampede delays the requests that arrive while the entry is recomputed, "
                 "so here it showed most in the tail.")
    else:
        where = ("Here the recomputation took long enough that much of each second's "
                 "arrivals queued behind it: the stampede slowed most requests, not only the "
                 "tail.")
    return {"plain_p50_ms": float(plain.p50_ms), "locked_p50_ms": float(locked.p50_ms),
            "plain_p99_ms": float(plain.p99_ms), "locked_p99_ms": float(locked.p99_ms),
            "p50_ratio": float(p50_x), "p99_ratio": float(p99_x),
            "plain_queries_s": float(plain.expensive_queries_per_s),
            "locked_queries_s": float(locked.expensive_queries_per_s), "where": where}


@replayable
def stale_reads(stack, backends: Sequence[str] = ("locmem", "redis"), trials: int = 10,
                reads: int = 8, on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """``count_stale_reads`` for each backend in turn, one row each."""
    rows = []
    for backend in backends:
        keep(rows, count_stale_reads(stack, backend, trials=trials, reads=reads), on_point)
    return done(rows, on_point)


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
        vote = f"{base}/api/questions/{qid}/vote/?backend={backend}"
        http.post(vote, timeout=10).check(vote)
        truth = stack.db.query("SELECT score FROM qa_question WHERE id = %s", (qid,),
                               dbname=stack.dataset.db_name)[0][0]
        for _ in range(reads):
            status, _, body = http_get(url)
            total += 1
            if status != 200 or json.loads(body)["score"] != truth:
                stale += 1
    return {"backend": backend, "workers": stack.config["workers"], "reads": total,
            "stale_reads": stale, "stale_share": stale / total if total else math.nan}


def savings(rows: pd.DataFrame, baseline: str = "no cache") -> pd.Series:
    """Each variant's saving over ``baseline``: its server CPU per request ÷ the baseline's,
    within each repeat, the median over repeats, on server-bound points only: the estimator
    the verdicts' savings use (``rules.caching.saving`` in a ``Figure``), so the prose and
    the verdict say one number."""
    from scalelab.verdicts.rule import Figure
    from scalelab.verdicts.rules.caching import saving

    variants = [v for v in dict.fromkeys(rows.variant) if v != baseline]
    return pd.Series({v: Figure(v, "", saving(baseline, v)).estimate(rows).median
                      for v in variants}, dtype=float)


def zipf_takeaway(view_gain: float, page_gain: float, hit_ratio: float, ttl: str) -> str:
    """The takeaway on caching popular pages against the shared home page: C3's capacity
    gain on the Zipf-popular question pages (``page_gain``, at ``hit_ratio`` with a ``ttl``
    TTL) against the home page's whole-view saving (``view_gain``): far smaller (under half),
    smaller, or as large."""
    if page_gain < view_gain / 2:
        than = "far smaller than"
    elif page_gain < view_gain:
        than = "smaller than"
    else:
        than = "as large as"
    return (f"With Zipf-popular question pages and a {ttl} TTL, {hit_ratio:.0%} of reads hit and "
            f"the cache multiplied capacity by {figure_text(page_gain)}, {than} the shared home "
            f"page's {figure_text(view_gain)}: a cache is worth what its hit ratio is worth.")


def threshold_solution(hit_ratio: float, gain: float, threshold: float = 1.5) -> str:
    """Exercise 1's worked solution: what a threshold of ``threshold``× asks of the question
    pages at this run's ``hit_ratio``: their saving is bounded by 1 ÷ the miss share (hits
    free, misses a full page), and ``gain`` is what the verdict measured."""
    if not (0 <= hit_ratio < 1) or not gain > 0:
        return ("This run has no server-bound question pages with a hit ratio below 1: there is "
                "no saving to compare with the threshold.")
    bound = 1 / (1 - hit_ratio)
    said = (f"The question pages hit **{hit_ratio:.0%}** of the time, so their saving cannot "
            f"exceed 1 ÷ {1 - hit_ratio:.2f} = **{fmt(bound)}×**; this run measured "
            f"{fmt(gain)}×. ")
    if bound < threshold:
        return said + (f"Even free hits could not reach {threshold:g}×: the rule says the cache "
                       "does not multiply capacity by that much, whatever a hit costs.")
    if gain >= threshold:
        return said + (f"The measured saving clears {threshold:g}×: the clause holds at this hit "
                       "ratio.")
    return said + (f"The bound allows {threshold:g}×, but hits are not free (a hit still runs "
                   "the view and reads Redis), so the measured saving stays below it.")
