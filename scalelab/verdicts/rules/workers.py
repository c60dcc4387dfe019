"""03-worker-counts' rule: C19 (more app servers when Django is the slow point)."""

from __future__ import annotations

import pandas as pd

from scalelab.verdicts.rule import Clause, Criterion, Estimate, Figure, Rule, ratio_by_repeat

def gain_over_one_sync(kind: str):
    """req/s of the most sync workers ÷ 1 sync worker on endpoint ``kind``, per repeat."""
    def compute(rows: pd.DataFrame) -> Estimate:
        part = rows[(rows.variant == kind) & (rows.worker_class == "sync")]
        if part.empty or part.workers.nunique() < 2:
            return Estimate(())
        most = f"sync ×{int(part.workers.max())}"
        return ratio_by_repeat(part, "req_s", most, "sync ×1", by="config")
    return compute


C19 = Rule(
    claim="C19",
    quote="Furthermore, you always have the option of having multiple application servers "
          "running Django if that is the slow point, with a software or hardware load balancer "
          "in front.",
    figures=[
        Figure("CPU-bound gain", "requests/s of the most sync workers ÷ of 1 sync worker, on "
                                 "the page that only computes", gain_over_one_sync("cpu-bound")),
        Figure("IO-bound gain", "the same on the page that waits 50 ms on an upstream, at the "
                                "stated load (more users than request slots)",
               gain_over_one_sync("io-bound"), points="stated load"),
    ],
    # 2×: more workers at least double capacity, what the advice promises when it is the
    # slow point; anything less is not what a reader hopes for from "more workers"
    clauses=[Clause("holds", [Criterion("CPU-bound gain", ">=", 2.0),
                              Criterion("IO-bound gain", ">=", 2.0)]),
             Clause("holds with conditions", [Criterion("IO-bound gain", ">=", 2.0)],
                    conditions="only where requests wait; computing pages are bounded by the "
                               "app's cores; the 'and servers' half is for 05-app-replicas")],
    decides="more repeats (MODE='full')")
