"""Which CPUs the servers get and which the load generator gets: disjoint, and recorded.

On 2 cores: the generator gets one, the servers (app, database, cache, proxy) share the
other, as they would share one small server. On larger machines the generator gets a quarter
(at least one) and the servers the rest. ``SCALELAB_GENERATOR_CPUS`` overrides, e.g. "0,1".
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CpuLayout:
    server: tuple[int, ...]
    generator: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.server or not self.generator:
            raise ValueError("a CPU layout needs at least one server CPU and one generator CPU")
        overlap = set(self.server) & set(self.generator)
        if overlap and len(available()) > 1:
            raise ValueError(f"server and generator CPUs must not overlap (both have {overlap})")

    @property
    def shared(self) -> bool:
        return bool(set(self.server) & set(self.generator))

    def describe(self) -> str:
        text = (f"servers on CPU {_ranges(self.server)}, "
                f"load generator on CPU {_ranges(self.generator)}")
        return text + (" (one CPU only: they share it)" if self.shared else "")

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(server=list(self.server), generator=list(self.generator), shared=self.shared,
                 available=available())
        return d


def available() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def _ranges(cpus) -> str:
    return ",".join(str(c) for c in cpus)


def parse_cpus(text: str, name: str = "cpus") -> tuple[int, ...]:
    if not re.fullmatch(r"\d+(,\d+)*", text.strip()):
        raise ValueError(f"{name} must be CPU numbers separated by commas, like '0' or '0,1', "
                         f"not {text!r}")
    cpus = tuple(int(c) for c in text.split(","))
    missing = set(cpus) - set(available())
    if missing:
        raise ValueError(f"{name}: CPU {sorted(missing)} is not available here "
                         f"(available: {available()})")
    return cpus


_LAYOUT_OVERRIDE: dict[str, CpuLayout | None] = {"layout": None}


def use_layout(layout: CpuLayout | None) -> CpuLayout | None:
    """Make ``default_layout`` return ``layout`` (None: this machine's again); reference mode
    shows the recorded run's layout this way. Returns the layout set before."""
    before, _LAYOUT_OVERRIDE["layout"] = _LAYOUT_OVERRIDE["layout"], layout
    return before


def default_layout(generator_processes: int = 1) -> CpuLayout:
    """The layout runs get on this machine (or the one ``use_layout`` set)."""
    if _LAYOUT_OVERRIDE["layout"] is not None:
        return _LAYOUT_OVERRIDE["layout"]
    cpus = available()
    override = os.environ.get("SCALELAB_GENERATOR_CPUS")
    if override:
        gen = parse_cpus(override, "SCALELAB_GENERATOR_CPUS")
        rest = tuple(c for c in cpus if c not in gen) or gen
        return CpuLayout(server=rest, generator=gen)
    if len(cpus) == 1:
        return CpuLayout(server=(cpus[0],), generator=(cpus[0],))
    n_gen = max(1, len(cpus) // 4, min(generator_processes, len(cpus) // 2))
    # The generator takes the first CPUs (CPU 0 also carries most interrupt work),
    # the servers the rest.
    return CpuLayout(server=tuple(cpus[n_gen:]), generator=tuple(cpus[:n_gen]))


@contextlib.contextmanager
def pinned(cpus):
    """Run the calling thread (and the threads it starts meanwhile) on ``cpus``: a client
    timing pages from the notebook's own process keeps off the server CPUs, as the load
    generator does. The thread's CPUs are restored after."""
    before = os.sched_getaffinity(0)  # 0: the calling thread
    os.sched_setaffinity(0, set(cpus))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
