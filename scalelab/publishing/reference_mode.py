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
from scalelab.servers import stack

_BEFORE: dict = {}  # what each floor had before activate(True), given back by activate(False)


def active() -> bool:
    return bool(_BEFORE)


def activate(on: bool = True) -> None:
    """Turn reference mode on (or off) for this process. Off gives every floor back what it
    had before reference mode was turned on; turning it off when it is off changes nothing."""
    if on and not _BEFORE:
        layout = reference.layout()  # refuse now, clearly, if there is no reference to show
        _BEFORE.update(
            shown=reference.show(True),
            results=paths.use_results_dir(paths.reference_dir(), read_only=(
                "reference mode writes nothing into the reference (`make reference` "
                "refreshes it)")),
            layout=cpus.use_layout(layout),
            stand_in=stack.stand_in(layout),
            refusal=processes.refuse_spawning(reference.REFUSED),
            availability=binaries.use_availability(reference.has_server))
    elif not on and _BEFORE:
        before = dict(_BEFORE)
        _BEFORE.clear()
        reference.show(before["shown"])
        paths.use_results_dir(*before["results"])
        cpus.use_layout(before["layout"])
        stack.stand_in(before["stand_in"])
        processes.refuse_spawning(before["refusal"])
        binaries.use_availability(before["availability"])
