"""Reference mode, chosen here at the top: a notebook shows the lab's reference run instead of
measuring.

``MODE = "reference"`` (``notebook.settings``) calls ``activate()`` for the kernel. Each floor
below is told what it needs, and none of them asks about the mode: the results floor shows the
reference's rows (``results.reference.show``) and reads results from the reference, read only
(``paths.use_results_dir``); stacks start nothing (``servers.stack.stand_in``) and take the
recorded run's CPU layout (``cpus.use_layout``); starting any process is refused
(``processes.refuse_spawning``); a server is available when the reference machine had it
(``binaries.use_availability``).
"""

from __future__ import annotations

from scalelab.plumbing import binaries, cpus, paths, processes
from scalelab.results import reference
from scalelab.results.reference import ReferenceModeError  # noqa: F401  (re-exported)
from scalelab.servers import stack

_ACTIVE = {"on": False}


def active() -> bool:
    return _ACTIVE["on"]


def activate(on: bool = True) -> None:
    """Turn reference mode on (or off) for this process."""
    if on:
        layout = reference.layout()  # refuse now, clearly, if there is no reference to show
        reference.show(True)
        paths.use_results_dir(paths.reference_dir(), read_only="reference mode writes nothing into the "
                              "reference (`make reference` refreshes it)")
        cpus.use_layout(layout)
        stack.stand_in(layout)
        processes.refuse_spawning(reference.REFUSED)
        binaries.use_availability(reference.has_server)
    else:
        reference.show(False)
        paths.use_results_dir(None)
        cpus.use_layout(None)
        stack.stand_in(None)
        processes.refuse_spawning(None)
        binaries.use_availability(None)
    _ACTIVE["on"] = bool(on)
