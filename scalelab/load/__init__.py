"""Load: what simulated users do, Locust driving them in a subprocess, and one tidy row per
measured point.

    wl = Workload("home", mix={"home": 1})
    df = sweep(stack, wl, users=[1, 2, 4, 8], duration=10, warmup=3, repeats=3)

One module per job:

- ``workload``: ``Workload`` (pages, mix, think time, popularity) and the checks on its URLs
- ``target``: where the load goes (a Stack or a loopback URL) and what can be measured there
- ``locust``: one Locust subprocess through its steps, handing over each finished point
- ``windows``: the windows arithmetic, pure (measured seconds, counts, percentiles)
- ``point``: a point's columns with units (``COLUMNS``) and the figures derived from a window
- ``api``: ``sweep``, ``run`` and ``compare``

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
