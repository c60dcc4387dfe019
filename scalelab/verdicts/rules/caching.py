"""02-caching's rules: C1, C2, C3 and C18, from the CPU per request of cached and uncached pages.

``CACHED``, the question-page variant that decides C1 and C2, is named here and chosen
before any data (the notebook imports it)."""

from __future__ import annotations

import pandas as pd

from scalelab.verdicts.rule import (Clause, Criterion, Estimate, Figure, Rule, point_label,
                                     ratio_by_repeat)

CACHED_TTL = 5  # the question-page TTL that decides C1 and C3 (seconds; quick and full mode)
CACHED = f"ttl {CACHED_TTL}s"


def miss_share(rows: pd.DataFrame) -> Estimate:
    """Share of the cached variant's cache reads that missed (from Redis's own counters)."""
    part = rows[rows.variant == CACHED]
    vals = [1 - r.redis_hit_ratio for _, r in part.iterrows() if "redis_hit_ratio" in r]
    return Estimate(vals, [point_label(r) for _, r in part.iterrows()])


def gain_times_miss_share(rows: pd.DataFrame) -> Estimate:
    """(uncached ÷ cached server CPU per request) × the cached variant's miss share, per repeat.

    If hits cost nothing and a miss costs what an uncached request costs, this is 1: the cache
    removed exactly the hits' work and nothing more. Below 1: hits still cost something."""
    gain = ratio_by_repeat(rows, "cpu_ms_per_req_server", "uncached", CACHED)
    values = []
    for repeat, g in zip(sorted(rows[rows.variant == CACHED].repeat.unique()), gain.values):
        part = rows[(rows.variant == CACHED) & (rows.repeat == repeat)]
        values.append(g * (1 - part.redis_hit_ratio.mean()))
    return Estimate(values, gain.points)


def saving(numerator: str, denominator: str):
    """CPU per request of ``numerator`` ÷ that of ``denominator``, within each repeat."""
    return lambda rows: ratio_by_repeat(rows, "cpu_ms_per_req_server", numerator, denominator)


C1 = Rule(
    claim="C1",
    quote="Django works very nicely with memcached and provides some classes for managing the "
          "cache, which is where you would resolve the majority of your performance issues.",
    figures=[
        Figure("saving", f"server CPU per request of uncached question pages ÷ of the same "
                         f"pages with their data in Django's cache in Redis ({CACHED_TTL} s TTL; "
                         "the template renders on every request), requested with Zipf "
                         "popularity", saving("uncached", CACHED)),
        Figure("hit ratio", "share of those cached pages' cache reads that hit, from Redis's "
                            "own counters (shown, not a criterion)",
               lambda rows: Estimate([1 - v for v in miss_share(rows).values],
                                     miss_share(rows).points), unit="%"),
        Figure("home-page saving", "server CPU per request of the uncached home page ÷ of the "
                                   "home page behind the per-view cache: one page every visitor "
                                   "shares", saving("no cache", "view")),
    ],
    # "the majority of your performance issues": at least half of the server's work per
    # request gone, i.e. a saving of 2× or more, at the hit ratio real popularity gives
    clauses=[Clause("holds", [Criterion("saving", ">=", 2.0)]),
             Clause("holds with conditions", [Criterion("home-page saving", ">=", 2.0)],
                    conditions="only for pages many visitors share, like the home page; on "
                               "Zipf-popular question pages at this traffic and TTL the cache "
                               "saved less than half the work")],
    decides="longer windows and more repeats at the deciding TTL (MODE='full')")

C2 = Rule(
    claim="C2",
    quote="it comes with some fairly decent output/view caching straight out of the box. Make "
          "use of that, and say, redis as a cache provider, put a load balancer in front of it, "
          "spin up n-instances and you should be able to deal with a VERY large amount of "
          "traffic.",
    figures=[Figure("question-page saving", "server CPU per request of uncached question "
                                            "pages ÷ of the same pages with their data in "
                                            f"the cache ({CACHED_TTL} s TTL), requested with "
                                            "Zipf popularity: the traffic a site sees",
                    saving("uncached", CACHED)),
             Figure("view saving", "server CPU per request of the uncached home page ÷ of the "
                                   "home page behind Django's per-view cache in Redis",
                    saving("no cache", "view"))],
    # "a very large amount": an order of magnitude more reads from the same CPUs, decided
    # first on the question pages real popularity requests; one hot page is the condition
    clauses=[Clause("holds with conditions", [Criterion("question-page saving", ">=", 10.0)],
                    conditions="on one machine: the load-balancer half is for "
                               "05-app-replicas"),
             Clause("holds with conditions", [Criterion("view saving", ">=", 10.0)],
                    conditions="on one hot page, one machine: on Zipf-popular question pages "
                               "the cache saved far less; the load-balancer half is for "
                               "05-app-replicas")],
    decides="more repeats of the home-page and question-page variants (MODE='full')")

C3 = Rule(
    claim="C3",
    quote="First, caching is not scaling.",
    figures=[
        Figure("capacity gain", "server CPU per request of uncached question pages ÷ of "
                                f"cached ones ({CACHED_TTL} s TTL, Zipf popularity)",
               saving("uncached", CACHED)),
        Figure("miss share", "share of cache reads that missed, from Redis's counters",
               miss_share, unit="%"),
        Figure("gain × miss share",
               "the capacity gain times the miss share: 1 if the cache removed exactly the "
               "hits' work (misses still cost a full page), above 1 if it added capacity "
               "beyond that", gain_times_miss_share),
    ],
    # gain x miss share <= 1 is Amdahl's bound (the hits' work is all a cache removes): the
    # figures show where the capacity came from, and cannot decide the claim
    clauses=[],
    untestable=("'caching is not scaling' is about adding machines, and this notebook runs "
                "on one server core. The figure here, gain × miss share, is Amdahl's bound: "
                "any cache whose hits cost anything meets it, so no measurement on one machine "
                "could break it; what would test it: capacity measured as machines are added, "
                "with and without the cache, on more than one page and cache (05's scale model "
                "measures one such pair, the home page uncached and from the per-view cache, "
                "for C9 and C2)"))

C18 = Rule(
    claim="C18",
    quote="There are caching options at the Django level (for example caching querysets and "
          "views in memcached can work wonders) and beyond (upstream caches like Squid).",
    figures=[Figure("proxy saving", "server CPU per request of the home page behind Django's "
                                    "per-view cache ÷ behind nginx's microcache",
                    saving("view", "nginx microcache"))],
    # half the cost of Django's best cache: a proxy cache is worth a server of its own only
    # if it does the same job for clearly less
    clauses=[Clause("holds", [Criterion("proxy saving", ">=", 2.0)])],
    decides="a server-bound nginx point: on a 1 + 1 core split wrk needs about as much CPU "
            "per request as nginx's microcache, so the point sits near both limits; more "
            "repeats (MODE='full') give it more chances, more generator CPUs settle it")
