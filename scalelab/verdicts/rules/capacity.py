"""09-capacity-planning's rules: C15, C16 and C17, the capacity model applied to measured costs
(the reference's one core, and the model deployment's small hosts).

The model is ``scalelab.verdicts.capacity_model``, the same one the notebook plans with; the
configurations (``UNCACHED``, ``PER_VIEW``) and C16's open point (``C16_LOAD``) are named here and
``scalelab.experiments.capacity`` measures them under these names."""

from __future__ import annotations

import pandas as pd

from scalelab.verdicts import capacity_model as model
from scalelab.verdicts.rule import Clause, Criterion, Estimate, Figure, Rule, point_label

# The arithmetic is the notebook's model (capacity_model), applied to each repeat's cost
UNCACHED, PER_VIEW = "uncached", "per-view cache"  # configurations: experiments.capacity.CONFIGS
C16_LOAD = "twice 100k hits a day"  # the open point C16 is decided on (experiments.capacity)
# the plan for C16's load run on the model deployment (experiments.capacity.deployment_run):
# its rows' configuration, whose cost per page view C15 and C17 project from
DEPLOYED = "model deployment"


def _per_repeat(config: str, value):
    """``value(cpu_ms_per_view)`` for each repeat of ``config``'s reference cost."""
    def compute(rows: pd.DataFrame) -> Estimate:
        part = rows[rows.config == config] if "config" in rows else rows.iloc[:0]
        return Estimate([value(r.cpu_ms_per_view) for _, r in part.iterrows()],
                        [point_label(r) for _, r in part.iterrows()])
    return compute


def _disqus_cores(cpu_ms: float) -> float:
    return model.cores(model.per_month_to_peak_per_s(model.SITES["Disqus"][1]), cpu_ms)


def _at_c16_load(column: str, scale: float = 1.0):
    """``column`` of the open points at C16's load, per repeat."""
    def compute(rows: pd.DataFrame) -> Estimate:
        part = rows[rows.variant == C16_LOAD] if "variant" in rows else rows.iloc[:0]
        return Estimate([float(r[column]) * scale for _, r in part.iterrows()],
                        [point_label(r) for _, r in part.iterrows()])
    return compute


THINK_LOW, THINK_HIGH = model.THINK_RANGE  # s: TPC-W's browsing think time; a minute a page

C15 = Rule(
    claim="C15",
    quote="if you're expecting 100K users per day, that are active for hours at a time "
          "(meaning max of 20K+ concurrent users), you're going to need A LOT of servers. [...] "
          "For that volume, expect at least 30 servers ... which is still a rather heavy 1,000 "
          "concurrent users per server.",
    figures=[
        Figure("break-even think time",
               "the seconds between a user's page views at which the thread's 20,000 "
               "concurrent users need exactly 30 servers of one core (the lab's server: app, "
               "database and proxy on one core), at 70% busy, for the uncached home page and "
               "its assets at the reference's CPU per page view; users who view pages more "
               "often need more servers, readers who linger fewer",
               _per_repeat(UNCACHED, model.break_even_think_s), unit="s"),
        Figure("break-even think time, cached",
               "the same with the home page from Django's per-view cache (shown)",
               _per_repeat(PER_VIEW, model.break_even_think_s), unit="s"),
        Figure("break-even think time, model deployment (projected)",
               "the same at the CPU per page view the model deployment used: the uncached "
               "home page at C16's load on app hosts of 1/16 core behind nginx, every host's "
               "CPU time as its kernel counts it, and the assets at the reference's cost; "
               "measured on small hosts, projected from there to 20,000 users and 30 servers",
               _per_repeat(DEPLOYED, model.break_even_think_s), unit="s",
               points="stated load"),
    ],
    # readers of Q&A pages view a page every 7 s (TPC-W's browsing think time) to every
    # minute: the break-even think time is shown against that range, as a plan, not a test
    clauses=[],
    untestable=("20,000 concurrent users and the servers they need are arithmetic on a "
                "measured page cost (one core's, and the model deployment's small hosts') and "
                "on the thread's own figures (its peak factor is derived from the 20,000 it "
                "would check): the step from the hosts measured here to 30 servers is a "
                "projection; what would test it: the traffic of a site with 100,000 users a "
                "day, or an independent measure of their concurrency and think time"))

C16 = Rule(
    claim="C16",
    quote="I imagine a number of these these sites probably gets well over 100k+ hits per day. "
          "Django can certainly do 100k hits/day and more.",
    figures=[
        Figure("p99 at twice the peak",
               "99th percentile response time of the uncached home page under Poisson "
               "arrivals at twice the peak rate of 100,000 hits a day (every hit an uncached "
               "page; the peak 4.3× the day's average, the top of the peak factors measured "
               "elsewhere: a site used in working hours only), measured from each "
               "request's intended send time", _at_c16_load("p99_ms"), unit="ms",
               points="stated load"),
        Figure("busy at twice the peak",
               "busy share of the server CPU (one core: app, database) at that load",
               _at_c16_load("server_cpus_busy"), unit="%", points="stated load"),
    ],
    # "certainly ... and more": twice the peak rate, on one core, answered within a second
    # at the 99th percentile (the limit for a user's flow of thought, Nielsen) with the core
    # no busier than the 70% a plan allows
    clauses=[Clause("holds", [Criterion("p99 at twice the peak", "<=", 1000),
                              Criterion("busy at twice the peak", "<=", 0.7)])],
    decides="longer windows at that rate (MODE='full'): a few dozen requests a window make a "
            "noisy 99th percentile")

C17 = Rule(
    claim="C17",
    quote="Disqus serves over 8 billion page views per month. [...] I'm told they handle "
          "roughly 10 million uniques a month. [...] curse.com is one of the largest Django "
          "applications with around 60-90 million page views in a month.",
    figures=[
        Figure("Disqus cores, cached",
               "cores busy 70% at the peak of 8 billion page views a month (a 30-day month, "
               "the peak 2.4× the average) at the CPU per page view of the home page from "
               "Django's per-view cache, with its assets from nginx",
               _per_repeat(PER_VIEW, _disqus_cores), unit="cores"),
        Figure("Disqus cores, uncached", "the same for the uncached home page",
               _per_repeat(UNCACHED, _disqus_cores), unit="cores"),
        Figure("Disqus cores, model deployment (projected)",
               "the same at the CPU per page view the model deployment's hosts used for the "
               "uncached home page at C16's load: measured on 1/16-core hosts, projected from "
               "there to Disqus's traffic", _per_repeat(DEPLOYED, _disqus_cores),
               unit="cores", points="stated load"),
    ],
    # the cores the cited volumes would need at this page's cost, shown against the thread's
    # "a lot of servers" (30 of one core each)
    clauses=[],
    untestable=("Disqus's and Mahalo's fleets are projected from one page's CPU cost here "
                "(one core's, and the model deployment's small hosts'); "
                "what would test it: that traffic served by a fleet, or those sites' own "
                "measurements"))
