"""Floor 5, load: what simulated users do, the generators that drive them (Locust in a
subprocess, wrk, the open load, clients while a server fails, pgbench), and one tidy row per measured
point.

    wl = Workload("home", mix={"home": 1})
    df = sweep(stack, wl, users=[1, 2, 4, 8], duration=10, warmup=3, repeats=3)

One module per job:

- ``workload``: ``Workload`` (pages, mix, think time, popularity) and the checks on its URLs
- ``locust``: one Locust subprocess through its steps, handing over each finished point
- ``windows``: the windows arithmetic, pure (measured seconds, counts, percentiles)
- ``api``: ``sweep``, ``run`` and ``compare``
- ``wrk``, ``open_rate``, ``under_failure``: the other generators
- ``pgbench``: PostgreSQL's own generator, votes sent to the primary with no app in the way

Where the load goes and a point's columns live one floor down, in ``scalelab.measurement``
(``target``, ``point``), and are re-exported here.

A point's figures come from its window only (warm-up thrown away): requests, failures and
latency percentiles from per-second histograms the locustfile writes; CPU time of every server
process tree and of the generator from :class:`~scalelab.measurement.cpu_sampler.CpuSampler`.
"""

from scalelab.load.api import compare, run, sweep
from scalelab.load.locust import Interrupted, Terminated, run_locust
from scalelab.measurement.point import COLUMNS, COMPONENTS, derive, describe_columns, start_sampler
from scalelab.measurement.target import Target, as_target
from scalelab.load.windows import FLUSH_LAG, percentile
from scalelab.load.workload import PAGES, TEMPLATE_FIELDS, Workload, check_url

__all__ = ["COLUMNS", "COMPONENTS", "FLUSH_LAG", "Interrupted", "PAGES", "TEMPLATE_FIELDS", "Target",
           "Terminated", "Workload", "as_target", "check_url", "compare", "derive",
           "describe_columns", "percentile", "run", "run_locust", "start_sampler", "sweep"]
