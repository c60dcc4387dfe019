"""Where the load goes (a Stack or a loopback URL) and what can be measured there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from scalelab.plumbing.cpus import CpuLayout
from scalelab.plumbing.loopback import check_url


@dataclass
class Target:
    """Where the load goes, and what can be measured there."""

    url: str
    components: dict[str, list[int]]  # server process trees by component (empty if remote)
    app_pid: int | None = None
    question_ids: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    layout: CpuLayout | None = None
    counters: dict = field(default_factory=dict)  # name -> callable: cumulative server counters
    # the scale model's hosts: host -> (its server's root pids, its cores)
    hosts: dict[str, tuple[list[int], float]] = field(default_factory=dict)
    # host -> periods it was throttled at its quota so far (the kernel's count)
    throttled: Callable[[], dict[str, int]] | None = None
    # host -> a reader of its CPU seconds so far, counted by the kernel for the group (where
    # it can be read: then a host's CPU is not summed over its process trees)
    host_meters: dict[str, Callable[[], float]] = field(default_factory=dict)


def as_target(target, questions: int | None = None) -> Target:
    """A Stack, or an external URL (then pass ``questions`` to pick ids 1..questions)."""
    if isinstance(target, Target):
        return target
    if questions is not None and (isinstance(questions, bool) or not isinstance(questions, int)
                                  or questions < 1):
        raise ValueError(f"questions must be a whole number of 1 or more, not {questions!r}")
    if isinstance(target, str):
        url = check_url(target)
        n = questions or 1000
        return Target(url, {}, None, list(range(1, n + 1)), [])
    # a Stack (duck-typed to avoid an import cycle)
    if not all(hasattr(target, a) for a in ("popularity", "base_url", "component_pids")):
        raise ValueError(f"target must be a Stack or an http(s) URL on this machine, not "
                         f"{type(target).__name__}")
    pop = target.popularity()
    return Target(target.base_url, target.component_pids(), target.app.pid,
                  pop["question_ids"], pop["tags"], target.layout, target.counters(),
                  target.host_roots() if hasattr(target, "host_roots") else {},
                  getattr(target, "hosts_throttled", None),
                  target.host_meters() if hasattr(target, "host_meters") else {})
