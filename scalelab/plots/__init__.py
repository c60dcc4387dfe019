"""The lab's charts, every one re-exported here, so a notebook calls ``plots.bars(...)``
whichever module draws it: the standard charts in ``standard``, each notebook's own figures
in a module named like its experiment module.

- ``standard``: units, error bars, limit markers; throughput, latency (closed and open, and
  percentiles with their sample counts), CPU by component, bars
- ``caching``: 02, a cache's gain against its miss share, the cost of a hit and a miss
- ``static``: 04, page-load times against the link, the wire's saving against the backend's
- ``replicas``: 05, scale-out measured in the scale model, the projection to N machines, a
  crash under load
- ``db_replicas``: 06, replication lag against writes; reads against replicas in the scale model
- ``db_design``: 07, a page's cost as its table grows
- ``time_split``: 08, the flame graph
- ``capacity``: 09, cores against think time, the check run and the model deployment
  predicted against measured
- ``primer``: ``primer-queueing``, the simulated queues and the shapes of the USL
"""

from scalelab.plots.standard import (COMPONENT_COLOURS, LIMIT_STYLE, bars, cpu_breakdown,
                                     failure_timeline, grouped_bars, latency_bars,
                                     latency_closed_and_open, latency_vs_users,
                                     repeat_spread, throughput_vs_users)
from scalelab.plots.caching import cache_gain_vs_miss_share, operation_costs
from scalelab.plots.static import page_load_times, wire_against_backend
from scalelab.plots.replicas import crash_timeline, projection, scale_out
from scalelab.plots.db_replicas import lag_vs_writes, read_scale_out
from scalelab.plots.db_design import cost_by_table_size
from scalelab.plots.time_split import flame_graph
from scalelab.plots.capacity import cores_vs_think, deployment_vs_plan, predicted_vs_measured
from scalelab.plots.primer import closed_queue, open_latency, usl_shapes

__all__ = [
    "COMPONENT_COLOURS", "LIMIT_STYLE", "bars", "cache_gain_vs_miss_share", "closed_queue",
    "cores_vs_think", "cost_by_table_size", "deployment_vs_plan", "cpu_breakdown", "crash_timeline",
    "failure_timeline", "flame_graph", "grouped_bars", "lag_vs_writes", "latency_bars",
    "latency_closed_and_open", "latency_vs_users",
    "open_latency", "operation_costs", "page_load_times", "predicted_vs_measured", "projection",
    "read_scale_out", "repeat_spread", "scale_out", "throughput_vs_users", "usl_shapes", "wire_against_backend",
]
