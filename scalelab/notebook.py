"""Small helpers that keep notebooks to one idea a cell: settings per mode, prose with
computed numbers, and the verdict table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any

import pandas as pd

MODES = ("quick", "full")
OUTCOMES = ("holds", "holds with conditions", "does not hold",
            "cannot be tested on one machine")


def settings(mode: str, quick: dict[str, Any], full: dict[str, Any]) -> SimpleNamespace:
    """The experiment's knobs for ``mode`` ('quick' or 'full'), as attributes."""
    if mode not in MODES:
        raise ValueError(f"MODE must be one of {', '.join(MODES)}, not {mode!r}")
    if set(quick) != set(full):
        raise ValueError(f"quick and full settings must name the same knobs: "
                         f"{sorted(set(quick) ^ set(full))}")
    return SimpleNamespace(mode=mode, **(quick if mode == "quick" else full))


def show(markdown: str) -> None:
    """Display Markdown (a sentence whose numbers were computed in the cell)."""
    from IPython.display import Markdown, display

    display(Markdown(markdown))


@dataclass
class Verdict:
    """One claim's verdict: the rule (stated before the data), the deciding number, the outcome."""

    claim: str
    rule: str
    number: str
    verdict: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in OUTCOMES:
            raise ValueError(f"verdict must be one of {OUTCOMES}, not {self.verdict!r}")


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    df = pd.DataFrame([asdict(v) for v in verdicts])
    df.columns = [c.capitalize() for c in df.columns]
    return df.set_index("Claim")


def cv_note(cv: float, threshold: float = 0.10) -> str:
    """What a coefficient of variation means for a verdict, in words."""
    if cv != cv:  # NaN: one run
        return "one run only (quick mode): no spread measured, rerun with MODE='full'"
    if cv > threshold:
        return f"spread is large (CV {cv:.0%}): read the verdict with care"
    return f"spread is small (CV {cv:.0%})"


def record_verdicts(notebook: str, verdicts: list[Verdict], mode: str) -> pd.DataFrame:
    """Save a notebook's verdicts (for the README's claims ledger) and return their table."""
    from . import results

    df = pd.DataFrame([asdict(v) for v in verdicts])
    df.insert(1, "notebook", notebook)
    results.save(df, notebook, "verdicts", mode=mode)
    return verdict_table(verdicts)
