"""The rule of every claim a notebook decides, stated before any data (``RULES[notebook]``).

A notebook shows these rules (``Rule.markdown``) before its experiments and applies them to
its rows at the end (``Rule.decide``). Thresholds are chosen from the claim's own words, never
from the data: each one says here why it is what it is. Every branch of every rule has a unit
test with hand-made rows (tests/unit/test_rules.py).

One module per notebook (``baseline`` for 01-baseline, ... ``capacity`` for
09-capacity-planning); this package assembles them and re-exports their names, so
``from scalelab.verdicts.rules import CACHED`` and ``rules.C13`` work as before.
"""

from __future__ import annotations

from scalelab.verdicts.rule import Rule
from scalelab.verdicts.rules.baseline import C13, LOAD_SPAN, cost_under_load, throughput_elasticity
from scalelab.verdicts.rules.caching import (C1, C2, C3, C18, CACHED, CACHED_TTL,
                                             gain_times_miss_share, miss_share, saving)
from scalelab.verdicts.rules.workers import C19, gain_over_one_sync
from scalelab.verdicts.rules.static import (ALMOST, ASSET_SHARE, C7, C8, DJANGO_VIEW, FAST_LINK,
                                            NGINX, WHITENOISE, WIRE_LINK, asset_share, view_gain,
                                            wire_savings, wire_vs_backend)
from scalelab.verdicts.rules.replicas import (C2_BALANCER, C9, C10, SCALE_OUT, balancer_share,
                                              lost_share, projected_gain, same_machine_gain)
from scalelab.verdicts.rules.db_replicas import (C11, C12_REPLICA, READS_MOVED, WITH, WITHOUT,
                                                 db_cost_ratio)
from scalelab.verdicts.rules.db_design import (C4, C5, C6, C12_WRITES, HOT, INDEX_GAIN,
                                               SIZE_SPAN, SPREAD, best_tuned_gain,
                                               data_over_default_buffers, db_writes_per_core,
                                               design_over_framework, framework_bound,
                                               gain_growth, index_gain, naive_lost_share,
                                               tuned_gain)
from scalelab.verdicts.rules.time_split import AS_WRITTEN, BOTH_SWAPPED, C14
from scalelab.verdicts.rules.capacity import (C15, C16, C16_LOAD, C17, DEPLOYED, PER_VIEW, THINK_HIGH,
                                              THINK_LOW, UNCACHED)

RULES: dict[str, list[Rule]] = {
    "01-baseline": [C13],
    "02-caching": [C1, C2, C3, C18],
    "03-worker-counts": [C19],
    "04-static-offloading": [C7, C8],
    "05-app-replicas": [C9, C10, C2_BALANCER],
    "06-database-replicas": [C11, C12_REPLICA],
    "07-database-design": [C4, C5, C6, C12_WRITES],
    "08-where-the-time-goes": [C14],
    "09-capacity-planning": [C15, C16, C17],
}

__all__ = [
    "RULES",
    # 01-baseline
    "C13", "LOAD_SPAN", "cost_under_load", "throughput_elasticity",
    # 02-caching
    "C1", "C2", "C3", "C18", "CACHED", "CACHED_TTL", "gain_times_miss_share", "miss_share",
    "saving",
    # 03-worker-counts
    "C19", "gain_over_one_sync",
    # 04-static-offloading
    "ALMOST", "ASSET_SHARE", "C7", "C8", "DJANGO_VIEW", "FAST_LINK", "NGINX", "WHITENOISE",
    "WIRE_LINK",
    "asset_share", "view_gain", "wire_savings", "wire_vs_backend",
    # 05-app-replicas
    "C2_BALANCER", "C9", "C10", "SCALE_OUT", "balancer_share", "lost_share", "projected_gain",
    "same_machine_gain",
    # 06-database-replicas
    "C11", "C12_REPLICA", "READS_MOVED", "WITH", "WITHOUT", "db_cost_ratio",
    # 07-database-design
    "C4", "C5", "C6", "C12_WRITES", "HOT", "INDEX_GAIN", "SIZE_SPAN", "SPREAD", "best_tuned_gain",
    "data_over_default_buffers", "db_writes_per_core", "design_over_framework", "framework_bound",
    "gain_growth", "index_gain", "naive_lost_share", "tuned_gain",
    # 08-where-the-time-goes
    "AS_WRITTEN", "BOTH_SWAPPED", "C14",
    # 09-capacity-planning
    "C15", "C16", "C16_LOAD", "C17", "DEPLOYED", "PER_VIEW", "THINK_HIGH", "THINK_LOW", "UNCACHED",
]
