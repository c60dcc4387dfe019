"""01-baseline's rule: C13 (performance is not scale), from a sweep's lighter and heavier halves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelab.verdicts.rule import Clause, Criterion, Estimate, Figure, Rule, point_label

LOAD_SPAN = 4  # the heavier half of the points must offer this many times the users of the lighter


def _halves(rows: pd.DataFrame):
    """Per repeat: its points sorted by users, split into a lighter and a heavier half (the
    middle one left out when odd), when the two halves are LOAD_SPAN times apart in users."""
    for _, part in rows.groupby("repeat"):
        part = part.sort_values("users")
        k = len(part) // 2
        if k < 1:
            continue
        light, heavy = part.iloc[:k], part.iloc[-k:]
        if heavy["users"].max() < LOAD_SPAN * light["users"].min():
            continue
        yield light, heavy


def _geomean(s: pd.Series) -> float:
    return float(np.exp(np.log(s.astype(float)).mean()))


def cost_under_load(rows: pd.DataFrame) -> Estimate:
    """Mean server CPU per request of the heavier half ÷ of the lighter half, per repeat."""
    values, points = [], []
    for light, heavy in _halves(rows):
        values.append(heavy["cpu_ms_per_req_server"].mean() / light["cpu_ms_per_req_server"].mean())
        points += [point_label(r) for _, r in pd.concat([light, heavy]).iterrows()]
    return Estimate(values, points)


def throughput_elasticity(rows: pd.DataFrame) -> Estimate:
    """log(throughput ratio) ÷ log(users ratio) between the two halves, per repeat (users as
    geometric means): 1 when throughput grows in proportion to users, 0 when it does not grow."""
    values, points = [], []
    for light, heavy in _halves(rows):
        x = heavy["req_s"].mean() / light["req_s"].mean()
        n = _geomean(heavy["users"]) / _geomean(light["users"])
        values.append(float(np.log(x) / np.log(n)))
        points += [point_label(r) for _, r in pd.concat([light, heavy]).iterrows()]
    return Estimate(values, points)


C13 = Rule(
    claim="C13",
    quote="Performance != Scale. You can have a system that has amazing performance but does "
          "not scale and vice versa.",
    figures=[
        Figure("cost under load",
               "server CPU per request of the heavier half of the server-bound points ÷ of the "
               f"lighter half (at least {LOAD_SPAN}× fewer users); above 1 = the code got slower "
               "under load", cost_under_load),
        Figure("throughput elasticity",
               "how throughput grew with users between the same two halves, on a log scale: "
               "1 = in proportion (it scales), 0 = not at all", throughput_elasticity, unit=""),
    ],
    clauses=[Clause("holds with conditions",
                    # The claim fails if the code slows down under load (cost up by more than
                    # a quarter: "amazing performance" is then gone) or if the system keeps
                    # scaling (throughput growing at more than a quarter of the way to
                    # proportional on a log scale, e.g. 4× the users bringing over 1.41×).
                    # A cost that falls under load only strengthens the claim.
                    [Criterion("cost under load", "<=", 1.25),
                     Criterion("throughput elasticity", "<=", 0.25)],
                    conditions="decided for 'amazing performance but does not scale', on one "
                               "worker; the 'vice versa' half (scales, yet slow) is shown in "
                               "03-worker-counts without a verdict")],
    decides="a sweep with at least four server-bound user counts spanning four times the users, "
            "repeated (MODE='full')")
