"""scalelab: the harness of the "Does Django scale?" lab.

    from scalelab import Stack, Workload, sweep
    with Stack(workers=1) as stack:
        df = sweep(stack, Workload("home"), users=[1, 2, 4, 8])
"""

from .load import Workload, compare, run, sweep
from .stack import Dataset, Stack

__all__ = ["Dataset", "Stack", "Workload", "compare", "run", "sweep"]
__version__ = "0.1.0"
