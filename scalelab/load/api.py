"""The public way to load a target: ``sweep`` (user counts in turn), ``run`` (one point) and
``compare`` (variants interleaved A B C A B C), each returning one tidy row per point."""

from __future__ import annotations

import os
from typing import Callable, Sequence

import pandas as pd

from scalelab.plumbing.checks import check_int
from scalelab.plumbing.cpus import CpuLayout
from scalelab.plumbing.runs import check_label
from scalelab.results.reference import replayable
from scalelab.results import finished
from scalelab.load.locust import run_locust
from scalelab.load.windows import step_seconds
from scalelab.measurement.point import frame, warn_failures
from scalelab.measurement.target import as_target
from scalelab.load.workload import Workload


def _check_workload(workload) -> None:
    if not isinstance(workload, Workload):
        raise ValueError(f"workload must be a Workload (e.g. Workload('home')), not "
                         f"{type(workload).__name__}")


def _check_points(users: Sequence[int], duration: float, warmup: float, repeats: int,
                  processes: int) -> None:
    if not isinstance(users, (list, tuple)):
        raise ValueError(f"users must be a list of whole numbers from 1 to 10000, like "
                         f"[1, 2, 4], not {users!r}")
    if not users or any(isinstance(u, bool) or not isinstance(u, int) or not 1 <= u <= 10_000
                        for u in users):
        raise ValueError(f"users must be whole numbers from 1 to 10000, not {list(users)!r}")
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 3600:
        raise ValueError(f"duration must be whole seconds from 1 to 3600, not {duration!r}")
    if isinstance(warmup, bool) or not (isinstance(warmup, (int, float)) and 0 <= warmup <= 600):
        raise ValueError(f"warmup must be seconds from 0 to 600, not {warmup!r}")
    check_int("repeats", repeats, 1, 50)
    check_int("processes", processes, 1, (os.cpu_count() or 1) * 2)


@replayable
def sweep(target, workload: Workload | None = None, users: Sequence[int] = (1, 2, 4, 8),
          duration: float = 10, warmup: float = 3, repeats: int = 1, processes: int = 1,
          questions: int | None = None, progress: bool = True,
          on_point: Callable[[dict], None] | None = None, variant: str = "",
          layout: CpuLayout | None = None) -> pd.DataFrame:
    """Measure each user count for ``duration`` seconds after ``warmup`` seconds.

    One Locust process per repeat holds each user count in turn (no start-up per point);
    repeats run the whole list again (1 2 4 8 1 2 4 8 ...), so drift spreads over every
    point. ``on_point`` gets each finished row as it is measured (to save it at once).
    """
    workload = workload or Workload()
    _check_workload(workload)
    _check_points(users, duration, warmup, repeats, processes)
    users = list(users)
    tgt = as_target(target, questions)
    rows: list[dict] = []

    def keep(rec: dict, repeat: int) -> None:
        rec.update(repeat=repeat, workload=workload.name, variant=variant,
                   target=tgt.url if not tgt.components else "stack")
        rows.append(rec)
        if on_point:
            on_point(rec)

    for repeat in range(repeats):
        # steps begin on whole seconds (the locustfile's shape), so each holds its window
        run_locust(tgt, workload, [(u, step_seconds(warmup, duration)) for u in users], warmup,
                   window=duration,
                   processes=processes, layout=layout, progress=progress,
                   label=f"sweep-r{repeat}", on_step=lambda rec, r=repeat: keep(rec, r))
    finished(on_point)
    df = frame(rows)
    warn_failures(df)
    return df


@replayable
def run(target, workload: Workload | None = None, users: int = 4, duration: float = 10,
        warmup: float = 3, processes: int = 1, questions: int | None = None,
        progress: bool = True, variant: str = "", layout: CpuLayout | None = None,
        on_point: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """One measured point: ``users`` simulated users for ``duration`` s after ``warmup`` s."""
    return sweep(target, workload, [users], duration, warmup, 1, processes, questions,
                 progress, on_point=on_point, variant=variant, layout=layout)


@replayable
def compare(target, variants: dict[str, Workload], users: int = 4, duration: float = 10,
            warmup: float | dict[str, float] = 3, repeats: int = 1, questions: int | None = None,
            progress: bool = True, on_point: Callable[[dict], None] | None = None,
            layout: CpuLayout | None = None, label: str = "compare") -> pd.DataFrame:
    """Measure several variants (page mixes) at the same load, interleaved: A B C A B C ...

    One Locust process runs every window in turn, so drift of a shared machine spreads over
    every variant instead of favouring one. Variants must share think time and Zipf exponent.
    ``warmup`` is seconds, or a dict giving each variant its own (a cache with a TTL needs one
    TTL to reach its steady state; its uncached baseline does not).
    """
    check_label(label)
    if not isinstance(variants, dict) or not variants:
        raise ValueError("variants must be a non-empty dict of name -> Workload")
    for name, wl in variants.items():
        if not isinstance(wl, Workload):
            raise ValueError(f"variants[{name!r}] must be a Workload, not {type(wl).__name__}")
    first = next(iter(variants.values()))
    if any(wl._think != first._think or wl.zipf_s != first.zipf_s for wl in variants.values()):
        raise ValueError("variants must share think_time and zipf_s (only the mix may differ)")
    if isinstance(warmup, dict):
        if set(warmup) != set(variants):
            raise ValueError(f"warmup as a dict must name every variant: "
                             f"{sorted(variants)}, not {sorted(warmup)}")
        warmups = dict(warmup)
    else:
        warmups = {name: warmup for name in variants}
    for w in warmups.values():
        _check_points([users], duration, w, repeats, 1)
    tgt = as_target(target, questions)
    plan = [(repeat, name) for repeat in range(repeats) for name in variants]
    steps = [(users, step_seconds(warmups[name], duration), name) for _, name in plan]
    step_warmups = [warmups[name] for _, name in plan]
    rows: list[dict] = []

    def keep(rec: dict) -> None:
        repeat, name = plan[rec["step"]]
        rec.update(repeat=repeat, variant=name, workload=variants[name].name,
                   target=tgt.url if not tgt.components else "stack")
        rows.append(rec)
        if on_point:
            on_point(rec)

    run_locust(tgt, first, steps, step_warmups, window=duration, layout=layout, progress=progress,
               label=label, on_step=keep, variants=variants)
    finished(on_point)
    df = frame(rows)
    warn_failures(df)
    return df
