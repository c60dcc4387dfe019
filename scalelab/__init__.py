"""scalelab: the harness of the "Does Django scale?" lab.

    from scalelab import Stack, Workload, sweep
    with Stack(workers=1) as stack:
        df = sweep(stack, Workload("home"), users=[1, 2, 4, 8])

Names are imported on first use, so ``python -m scalelab.plumbing.binaries`` (run by setup before the
servers exist) loads nothing else.
"""

import importlib

__version__ = "0.1.0"
_EXPORTS = {"Dataset": "servers.dataset", "Stack": "servers.stack", "Workload": "load",
            "compare": "load", "run": "load", "sweep": "load"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    try:  # the floors and the notebook-facing modules: scalelab.plots, scalelab.results, ...
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError:
        raise AttributeError(f"module 'scalelab' has no attribute {name!r}") from None
