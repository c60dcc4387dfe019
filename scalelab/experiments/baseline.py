"""Arithmetic of the baseline notebook (01), shared with ``scripts/bench.py``: how many
requests a second the generator could send, against what the server can serve."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Headroom:
    """The generator's capacity over the server's, from one measured point."""

    users: int
    generator_load: float            # busy share of the generator CPUs at that point
    generator_cpu_ms_per_req: float  # the generator's own CPU per request
    generator_req_s: float           # what the generator CPUs could send at that cost
    server_req_s: float              # what the server CPUs can serve (the capacity line)

    @property
    def ratio(self) -> float:
        return self.generator_req_s / self.server_req_s if self.server_req_s else math.nan


def generator_capacity(generator_cpu_ms_per_req: float, generator_cpus: int) -> float:
    """Requests/s the generator CPUs could send at the measured generator CPU per request."""
    if not generator_cpu_ms_per_req or math.isnan(generator_cpu_ms_per_req):
        return math.nan
    return 1000 * generator_cpus / generator_cpu_ms_per_req


def generator_headroom(rows: pd.DataFrame, server_req_s: float, generator_cpus: int
                       ) -> Headroom | None:
    """Headroom at the busiest server-bound point (most users): None when no point was
    server-bound, since then there is no capacity to compare with."""
    if isinstance(generator_cpus, bool) or not isinstance(generator_cpus, int) \
            or generator_cpus < 1:
        raise ValueError(f"generator_cpus must be a whole number of 1 or more, not "
                         f"{generator_cpus!r}")
    bound = rows[rows["limit"] == "server"] if "limit" in rows.columns else rows.iloc[0:0]
    if bound.empty:
        return None
    p = bound.sort_values("users").iloc[-1]
    return Headroom(int(p.users), float(p.generator_load), float(p.generator_cpu_ms_per_req),
                    generator_capacity(float(p.generator_cpu_ms_per_req), generator_cpus),
                    float(server_req_s))
