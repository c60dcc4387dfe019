"""The reference run as a source of rows: ``data/reference/``, recorded by ``make reference``.

While the reference is *shown* (``show(True)``, which reference mode sets from the top,
``scalelab.publishing.reference_mode``), a ``ResultWriter`` names recorded rows instead of
writing, and every measuring call decorated with ``@replayable`` returns the rows its
``on_point`` writer names instead of measuring. Figures, tables and verdicts are then computed
by the same cells from the same rows as in the recorded run.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable

from scalelab.plumbing import paths
from scalelab.plumbing.cpus import CpuLayout

_SHOWN = {"on": False}


class ReferenceModeError(RuntimeError):
    """A measuring call that names no recorded rows (no ``on_point`` writer) was made while
    the reference is shown."""


def show(on: bool) -> bool:
    """Show the reference (or stop showing it): measuring calls return its rows. Returns
    whether it was shown before."""
    before, _SHOWN["on"] = _SHOWN["on"], bool(on)
    return before


def shown() -> bool:
    return _SHOWN["on"]


def machine() -> dict[str, Any]:
    """The machine, layout and mode of the reference run (``data/reference/machine.json``)."""
    path = paths.reference_dir() / "machine.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no reference run in {paths.relative(path.parent)} (its "
                                "machine.json is missing): `make reference` records one") from None


def recorded_mode() -> str:
    """The mode the reference was recorded in ('full')."""
    return machine().get("mode", "full")


def layout() -> CpuLayout:
    """The CPU layout of the reference run."""
    lay = machine()["layout"]
    return CpuLayout(server=tuple(lay["server"]), generator=tuple(lay["generator"]))


def has_server(name: str) -> bool:
    """Whether the reference machine had server ``name`` (e.g. 'memcached')."""
    return machine().get("environment", {}).get(name, "missing") != "missing"


def commits() -> dict[str, list[str]]:
    """The git commits the reference's results were measured at, each with the results
    (``<notebook>/<name>``) measured there: one commit, without '-dirty', when ``make
    reference`` recorded every notebook from one clean checkout."""
    found: dict[str, list[str]] = {}
    for meta_path in sorted(paths.reference_dir().glob("*/*.json")):
        if meta_path.name.startswith("timing-"):
            continue
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        commit = str(meta.get("environment", {}).get("git_commit", "unknown"))
        found.setdefault(commit, []).append(f"{meta_path.parent.name}/{meta_path.stem}")
    return found


REFUSED = "reference mode starts and measures nothing"


def replayable(fn: Callable) -> Callable:
    """Make a measuring function return, while the reference is shown, the rows its
    ``on_point`` writer (a ``results.ResultWriter``) names in the reference, instead of
    measuring."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not shown():
            return fn(*args, **kwargs)
        writer = kwargs.get("on_point")
        if writer is None or not hasattr(writer, "recorded"):
            raise ReferenceModeError(
                f"{REFUSED}, so {fn.__name__}() without on_point=results.ResultWriter(notebook, "
                "name) (the name of the recorded rows to show) is refused; set MODE = 'quick' "
                "or 'full' to measure")
        return writer.recorded()

    return wrapper


def replayed_without_hosts(fn: Callable) -> Callable:
    """Make a measurement in the scale model fall back to the reference run's rows (those its
    ``on_point`` writer names, from ``data/reference/``) where this machine cannot make hosts
    (not root, no delegated cgroup CPU controller): said in one line, then shown as recorded.
    Without such a writer the refusal names the reason."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from scalelab.plumbing import hosts

        can, why = hosts.support()
        if can or shown():
            return fn(*args, **kwargs)
        writer = kwargs.get("on_point")
        if writer is None or not hasattr(writer, "notebook"):
            raise hosts.HostError(f"{fn.__name__}() runs in hosts of the scale model, and "
                                  f"none can be made here: {why}")
        import sys

        import pandas as pd

        from scalelab.measurement.point import frame

        print(f"scalelab: the scale model cannot run here ({why}); {fn.__name__}() shows "
              f"the reference run's rows instead", file=sys.stderr)
        path = paths.reference_dir() / writer.notebook / f"{writer.name}.csv"
        return frame(pd.read_csv(path).to_dict("records"))

    return wrapper
