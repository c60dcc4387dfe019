"""A claim's reference rows, as its notebook's decide() cell gathers them, and its rule: what
the falsification and band tests decide again."""

from __future__ import annotations

import pandas as pd

from scalelab.plumbing import paths
from scalelab.verdicts.rules import RULES

# the saved results each claim is decided on, as each notebook's decide() cell gathers them
INPUTS = {
    ("01-baseline", "C13"): ["sweep"],
    ("02-caching", "C1"): ["question-pages", "where-to-cache"],
    ("02-caching", "C2"): ["question-pages", "where-to-cache"],
    ("02-caching", "C3"): ["question-pages"],
    ("02-caching", "C18"): ["where-to-cache"],
    ("03-worker-counts", "C19"): ["configurations"],
    ("04-static-offloading", "C7"): ["page-loads", "backend-time"],
    ("04-static-offloading", "C8"): ["who-serves"],
    ("05-app-replicas", "C9"): ["replicas", "scale-out"],
    ("05-app-replicas", "C10"): ["sessions"],
    ("05-app-replicas", "C2"): ["replicas", "scale-out"],
    ("06-database-replicas", "C11"): ["reads-and-writes", "scale-reads"],
    ("06-database-replicas", "C12"): ["reads-and-writes"],
    ("07-database-design", "C4"): ["indexes"],
    ("07-database-design", "C5"): ["indexes"],
    ("07-database-design", "C6"): ["settings"],
    ("07-database-design", "C12"): ["writes", "primary-writes"],
    ("08-where-the-time-goes", "C14"): ["layer-swaps"],
    ("09-capacity-planning", "C16"): ["check-run"],
}


def reference_rows(notebook: str, claim: str) -> pd.DataFrame:
    if notebook == "09-capacity-planning" and claim in ("C15", "C17"):
        from scalelab.experiments import capacity

        # the reference's one core, and the model deployment where the reference has it
        deployment = paths.reference_dir() / notebook / "deployment.csv"
        return pd.concat([capacity.reference_costs()]
                         + ([pd.read_csv(deployment)] if deployment.exists() else []),
                         ignore_index=True)
    return pd.concat([pd.read_csv(paths.reference_dir() / notebook / f"{name}.csv")
                      for name in INPUTS[(notebook, claim)]], ignore_index=True)


def rule_of(notebook: str, claim: str):
    return next(r for r in RULES[notebook] if r.claim == claim)
