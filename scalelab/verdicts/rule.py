"""Rules as data: how a claim is decided, stated before the data, applied to measured rows.

A :class:`Rule` names its claim, quotes the thread, says which points may decide it
(``limits.POINTS``), defines the figures it decides on (:class:`Figure`: one value per
repeat, computed from rows) and its clauses, tried in order:

    Rule("C2", quote, figures={"gain": ...},
         clauses=[Clause("holds with conditions", [Criterion("gain", ">=", 10)],
                         conditions="one machine has no load balancer")])

Each :class:`Criterion` compares a figure's spread (min to max over repeats) with its
threshold: *pass* when the whole spread is on the right side, *fail* when the whole spread is
on the wrong side, *straddle* otherwise, *no data* when no valid point gave a value. A clause
passes when all its criteria pass, fails when any fails, else it is undecided. The verdict is
the first clause that passes; an undecided clause met before that makes the verdict
"inconclusive" (with what would decide it); when every clause fails, ``otherwise``.

With a single repeat there is no measured spread: the value is widened by the lab's own
window-to-window spread (``band.one_run_band``, measured from the reference runs' repeated
windows), so a single quick run near a threshold says "inconclusive" instead of a word the
reference run contradicts.

A rule that this machine cannot test (``untestable``: a projection, an emulator's arithmetic,
a bound no measurement can break) says ``UNTESTABLE`` and what would test it, whatever the
figures, which it still shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd

from scalelab.measurement import limits
from scalelab.plumbing.numbers import figure_text
from scalelab.verdicts.band import describe, one_run_band

UNTESTABLE = "cannot be tested here"
OUTCOMES = ("holds", "holds with conditions", "does not hold", "inconclusive", UNTESTABLE)
OPS = (">=", "<=", "between")


@dataclass(frozen=True)
class Estimate:
    """A figure's values, one per repeat, and the points (rows) they came from."""

    values: tuple[float, ...]
    points: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(float(v) for v in self.values
                                                 if v is not None and not math.isnan(float(v))))
        object.__setattr__(self, "points", tuple(self.points))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return float(pd.Series(self.values).median()) if self.values else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """min to max over repeats; one value is widened by the lab's band either side."""
        if not self.values:
            return (math.nan, math.nan)
        lo, hi = min(self.values), max(self.values)
        if self.n == 1:
            band = one_run_band()
            lo, hi = lo * (1 - band), hi * (1 + band)
            lo, hi = min(lo, hi), max(lo, hi)
        return (lo, hi)


@dataclass(frozen=True)
class Figure:
    """A deciding number: what it is, its unit, and how it is computed from valid rows."""

    name: str
    description: str
    compute: Callable[[pd.DataFrame], Estimate]
    unit: str = "×"
    points: str = "server-bound"  # which rows may enter it (limits.POINTS)

    def __post_init__(self) -> None:
        if self.points not in limits.POINTS:
            raise ValueError(f"points must be one of {', '.join(limits.POINTS)}, "
                             f"not {self.points!r}")

    def estimate(self, rows: pd.DataFrame) -> Estimate:
        valid = limits.usable(rows, self.points)
        return self.compute(valid) if not valid.empty else Estimate(())


@dataclass(frozen=True)
class Criterion:
    """``figure op threshold``: op is '>=', '<=' or 'between' (threshold a (low, high) pair)."""

    figure: str
    op: str
    threshold: float | tuple[float, float]

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"op must be one of {OPS}, not {self.op!r}")
        if self.op == "between":
            if not (isinstance(self.threshold, tuple) and len(self.threshold) == 2
                    and self.threshold[0] < self.threshold[1]):
                raise ValueError("a 'between' threshold must be a (low, high) pair, low < high")
        elif not isinstance(self.threshold, (int, float)):
            raise ValueError(f"threshold of {self.op!r} must be a number, not {self.threshold!r}")

    def check(self, est: Estimate) -> str:
        """'pass', 'fail', 'straddle' or 'no data' for this estimate's spread."""
        if not est.n:
            return "no data"
        lo, hi = est.interval
        if self.op == ">=":
            return "pass" if lo >= self.threshold else "fail" if hi < self.threshold \
                else "straddle"
        if self.op == "<=":
            return "pass" if hi <= self.threshold else "fail" if lo > self.threshold \
                else "straddle"
        a, b = self.threshold
        if a <= lo and hi <= b:
            return "pass"
        if hi < a or lo > b:
            return "fail"
        return "straddle"

    def text(self, unit: str = "") -> str:
        if self.op == "between":
            return f"{self.figure} between {figure_text(self.threshold[0], unit)} and " \
                   f"{figure_text(self.threshold[1], unit)}"
        word = "at least" if self.op == ">=" else "at most"
        return f"{self.figure} {word} {figure_text(self.threshold, unit)}"


@dataclass(frozen=True)
class Clause:
    """A verdict word and the criteria that must all pass for it."""

    verdict: str
    criteria: tuple[Criterion, ...]
    conditions: str = ""  # which conditions, for "holds with conditions"

    def __post_init__(self) -> None:
        object.__setattr__(self, "criteria", tuple(self.criteria))
        if self.verdict not in ("holds", "holds with conditions", "does not hold"):
            raise ValueError(f"a clause's verdict must be holds, holds with conditions or "
                             f"does not hold, not {self.verdict!r}")
        if self.verdict == "holds with conditions" and not self.conditions:
            raise ValueError("a 'holds with conditions' clause must say which conditions")
        if not self.criteria:
            raise ValueError("a clause needs at least one criterion")

    def check(self, estimates: dict[str, Estimate]) -> str:
        states = [c.check(estimates[c.figure]) for c in self.criteria]
        if "fail" in states:
            return "fail"
        if all(s == "pass" for s in states):
            return "pass"
        return "undecided"


@dataclass(frozen=True)
class Decision:
    """A rule applied to data: the verdict, the numbers that decided it, the points used."""

    claim: str
    notebook: str
    verdict: str
    rule: str
    number: str
    points: str
    mode: str
    note: str = ""

    @property
    def label(self) -> str:
        return self.verdict + (" (preliminary: quick mode)" if self.mode == "quick" else "")

    def as_row(self) -> dict:
        return {"claim": self.claim, "notebook": self.notebook, "verdict": self.verdict,
                "rule": self.rule, "number": self.number, "points": self.points,
                "mode": self.mode, "note": self.note}


@dataclass(frozen=True)
class Rule:
    """How one claim is decided. See the module's docstring."""

    claim: str
    quote: str
    figures: tuple[Figure, ...]
    clauses: tuple[Clause, ...]
    otherwise: str = "does not hold"
    decides: str = ""  # what would decide it when inconclusive
    # why this machine cannot test the claim, and what would: the verdict is then always
    # UNTESTABLE, whatever the figures (shown, not decided on: a projection, an emulator's
    # arithmetic or a bound no measurement can break is never a "holds")
    untestable: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "figures", tuple(self.figures))
        object.__setattr__(self, "clauses", tuple(self.clauses))
        names = [f.name for f in self.figures]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.claim}: figure names must be unique: {names}")
        for clause in self.clauses:
            for c in clause.criteria:
                if c.figure not in names:
                    raise ValueError(f"{self.claim}: criterion on unknown figure {c.figure!r}; "
                                     f"figures: {names}")
        if self.otherwise not in ("does not hold", "holds with conditions", "holds"):
            raise ValueError(f"otherwise must be a verdict word, not {self.otherwise!r}")
        if self.untestable and "what would test it" not in self.untestable:
            raise ValueError(f"{self.claim}: untestable must say why and 'what would test it'")

    def _units(self) -> dict[str, str]:
        return {f.name: f.unit for f in self.figures}

    def text(self) -> str:
        """The rule in words, generated from the same fields that decide it."""
        if self.untestable:
            return (f"*{UNTESTABLE}*: {self.untestable}. Its figures are shown, not decided "
                    "on.")
        units = self._units()
        parts = []
        for clause in self.clauses:
            cond = " and ".join(c.text(units[c.figure]) for c in clause.criteria)
            extra = f" ({clause.conditions})" if clause.conditions else ""
            parts.append(f"*{clause.verdict}*{extra} if {cond}")
        parts.append(f"otherwise *{self.otherwise}*; *inconclusive* if a spread straddles "
                     "a threshold first met")
        return "; ".join(parts) + "."

    def markdown(self) -> str:
        """The rule as a reader sees it before the data: claim, quote, figures, clauses."""
        figs = "".join(f"\n  - *{f.name}*: {f.description}; from "
                       f"{limits.POINTS[f.points]}" for f in self.figures)
        return (f"**{self.claim}**: *\"{self.quote}\"*\n"
                f"- Figures (one value per repeat, within one run):{figs}\n"
                f"- Verdict: {self.text()}")

    def estimates(self, rows: pd.DataFrame) -> dict[str, Estimate]:
        return {f.name: f.estimate(rows) for f in self.figures}

    def outcome(self, estimates: dict[str, Estimate]) -> tuple[str, str]:
        """(verdict, note) from estimates: the first clause that passes; see the docstring.
        A rule that says it cannot be tested here says so whatever the estimates."""
        if self.untestable:
            return UNTESTABLE, self.untestable
        for clause in self.clauses:
            state = clause.check(estimates)
            if state == "pass":
                return clause.verdict, clause.conditions
            if state == "undecided":
                open_ = [c for c in clause.criteria
                         if c.check(estimates[c.figure]) in ("straddle", "no data")]
                why = "; ".join(_why(c, estimates[c.figure], self._units()[c.figure])
                                for c in open_)
                return "inconclusive", why + (f". What would decide it: {self.decides}"
                                              if self.decides else "")
        return self.otherwise, ""

    def decide(self, rows: pd.DataFrame, notebook: str, mode: str) -> Decision:
        est = self.estimates(rows)
        verdict, note = self.outcome(est)
        units = self._units()
        number = "; ".join(f"{name} {_spread(e, units[name])}" for name, e in est.items())
        points = sorted({p for e in est.values() for p in e.points})
        used = f"{len(points)} point(s): " + ", ".join(points) if points else "no valid point"
        return Decision(self.claim, notebook, verdict, self.text(), number, used, mode, note)


def _spread(est: Estimate, unit: str) -> str:
    if not est.n:
        return "n/a (no valid point)"
    if est.n == 1:
        return f"{figure_text(est.median, unit)} (one repeat, {describe(one_run_band())})"
    lo, hi = min(est.values), max(est.values)
    return (f"{figure_text(est.median, unit)} ({figure_text(lo, unit)} to "
            f"{figure_text(hi, unit)}, {est.n} repeats)")


def _why(c: Criterion, est: Estimate, unit: str) -> str:
    if not est.n:
        return f"{c.figure}: no valid point to compute it from"
    lo, hi = est.interval
    return (f"{c.figure} spans {figure_text(lo, unit)} to {figure_text(hi, unit)}, across the "
            f"threshold of '{c.text(unit)}'")


# --- figures built from rows ------------------------------------------------------------
def point_label(row) -> str:
    """A point as the ledger names it: configuration, variant (or users), repeat."""
    parts = [str(row["config"])] if "config" in row and not pd.isna(row["config"]) else []
    parts.append(str(row.get("variant") or f"{int(row['users'])} users"))
    if "repeat" in row and not pd.isna(row["repeat"]):
        parts.append(f"r{int(row['repeat'])}")
    return " ".join(parts)


def ratio_by_repeat(rows: pd.DataFrame, metric: str, numerator: str, denominator: str,
                    by: str = "variant") -> Estimate:
    """metric(numerator) / metric(denominator) within each repeat, where both are valid."""
    if rows.empty or by not in rows.columns:
        return Estimate(())
    values, points = [], []
    for _, part in rows.groupby("repeat") if "repeat" in rows.columns else [(0, rows)]:
        a, b = part[part[by] == numerator], part[part[by] == denominator]
        if a.empty or b.empty:
            continue
        den = b[metric].mean()
        if not den:
            continue
        values.append(a[metric].mean() / den)
        points += [point_label(r) for _, r in pd.concat([a, b]).iterrows()]
    return Estimate(values, points)


def verdict_table(decisions: Sequence[Decision]) -> pd.DataFrame:
    """One row per claim: verdict, deciding number, rule, points used (for display)."""
    df = pd.DataFrame([{"claim": d.claim, "verdict": d.label, "deciding number": d.number,
                        "rule": d.rule, "points used": d.points, "note": d.note}
                       for d in decisions])
    return df.set_index("claim")
