"""Reference mode: a notebook shows the lab's reference run instead of measuring.

``MODE = "reference"`` (``notebook.settings``) turns it on for the kernel. Then nothing is
started or measured: a ``Stack`` starts no server, every measuring call (``sweep``,
``compare``, ``run``, ``wrk.compare``, ``wrk.calibrate``, ...) returns the rows its
``on_point`` writer names from ``data/reference/<notebook>/``, results are read from there,
and nothing is written. Figures, tables and verdicts are computed by the same cells from the
same rows as in the recorded run, so a reader without PostgreSQL or nginx sees everything.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Callable

_ACTIVE = {"on": False}


class ReferenceModeError(RuntimeError):
    """Something tried to measure, start a process or write while in reference mode."""


def active() -> bool:
    return _ACTIVE["on"]


def activate(on: bool = True) -> None:
    """Turn reference mode on (or off) for this process."""
    if on:
        machine()  # refuse now, with a clear message, if there is no reference to show
    _ACTIVE["on"] = bool(on)


def machine() -> dict[str, Any]:
    """The machine, layout and mode of the reference run (``data/reference/machine.json``)."""
    from . import paths

    path = paths.reference_dir() / "machine.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no reference run in {paths.relative(path.parent)} (its "
                                "machine.json is missing): `make reference` records one") from None


def recorded_mode() -> str:
    """The mode the reference was recorded in ('full')."""
    return machine().get("mode", "full")


def layout():
    """The CPU layout of the reference run."""
    from .cpus import CpuLayout

    lay = machine()["layout"]
    return CpuLayout(server=tuple(lay["server"]), generator=tuple(lay["generator"]))


def has_server(name: str) -> bool:
    """Whether the reference machine had server ``name`` (e.g. 'memcached')."""
    return machine().get("environment", {}).get(name, "missing") != "missing"


def refuse_write(path: Path) -> None:
    """Raise if reference mode would write into the reference."""
    from . import paths

    if not active():
        return
    try:
        Path(path).resolve().relative_to(paths.reference_dir())
    except ValueError:
        return
    raise ReferenceModeError(f"reference mode writes nothing, and {paths.relative(path)} is "
                             "part of the reference (`make reference` refreshes it)")


def refuse(what: str) -> None:
    if active():
        raise ReferenceModeError(f"reference mode starts and measures nothing, so {what} is "
                                 "refused; set MODE = 'quick' or 'full' to measure")


def replayable(fn: Callable) -> Callable:
    """Make a measuring function return, in reference mode, the rows its ``on_point`` writer
    (a ``results.ResultWriter``) names in the reference, instead of measuring."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not active():
            return fn(*args, **kwargs)
        writer = kwargs.get("on_point")
        if writer is None or not hasattr(writer, "recorded"):
            refuse(f"{fn.__name__}() without on_point=results.ResultWriter(notebook, name) "
                   "(the name of the recorded rows to show)")
        return writer.recorded()

    return wrapper
