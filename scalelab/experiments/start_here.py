"""The start notebook's (00) arithmetic: how much the repeats' absolute costs moved against
their ratio, for its first exercise's worked solution."""

from __future__ import annotations

import pandas as pd

from scalelab.plumbing.numbers import fmt


def cv_solution(by_repeat: pd.DataFrame, pages: tuple[str, str] = ("uncached", "view cache"),
                ratio: str = "ratio") -> str:
    """Exercise 1's worked solution: the coefficient of variation (standard deviation ÷ mean
    over the repeats) of each page's server CPU per request and of their ratio, and which is
    smaller, by how much (``by_repeat``: one row a repeat, a column per page and the ratio)."""
    if len(by_repeat) < 2:
        return ("This run measured one repeat, so nothing varied between repeats: run quick or "
                "full mode for two or more, then compute the CVs.")
    cv = {c: by_repeat[c].std() / by_repeat[c].mean() for c in (*pages, ratio)}
    costs = max(cv[p] for p in pages)
    said = (f"Over {len(by_repeat)} repeats the CV was {cv[pages[0]]:.1%} for the "
            f"{pages[0]} page's cost, {cv[pages[1]]:.1%} for the {pages[1]} page's and "
            f"**{cv[ratio]:.1%}** for their ratio. ")
    if cv[ratio] < costs:
        how = f"{fmt(costs / cv[ratio])} times stiller than" if cv[ratio] > 0 else \
            "perfectly still against"
        return said + (f"The ratio held {how} the costlier page's cost: drift that moves both "
                       "pages together cancels in it. Over runs a day apart, that is the usual "
                       "case.")
    return said + ("Here the ratio moved at least as much as the costs: within one short run "
                   "both move mostly with the noise of short windows, which a ratio of two "
                   "windows adds up rather than cancels. Over runs a day apart, drift moves "
                   "both pages together and the ratio is the stiller one.")
