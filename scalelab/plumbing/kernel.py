"""What this process runs in: a Jupyter kernel (where a cell may be run again), and whether
that kernel was started headless by papermill (``SCALELAB_HEADLESS``: nobody sees a widget)."""

from __future__ import annotations

import os
import sys

HEADLESS = "SCALELAB_HEADLESS"  # set for the kernels of notebooks executed by papermill


def kernel_shell():
    """The IPython shell of the Jupyter kernel this runs in, or None (IPython is not imported
    for the question: outside a kernel nobody has imported it)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell if shell is not None and hasattr(shell, "kernel") else None


def in_notebook_kernel() -> bool:
    """True inside a Jupyter kernel, where a cell that starts a stack may be run again."""
    return kernel_shell() is not None


def headless() -> bool:
    """True in a kernel that papermill executes: no one can move a widget there."""
    return os.environ.get(HEADLESS) == "1"
