"""01-baseline's rule: C13 (performance is not scale), from a sweep's lighter and heavier halves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalelab.verdicts.rule import Estimate, Figure, Rule, point_label

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
    # The claim's two halves are about adding capacity: "does not scale" means throughput
    # that stops growing as workers, cores or machines are added, not as users are. On one
    # sync worker on one core, throughput cannot grow with users once the core is busy,
    # whatever the code does, so an elasticity near 0 here holds by construction; the cost
    # under load could have come out otherwise (a lock would raise it) and is shown.
    clauses=[],
    untestable=("'does not scale' is about adding capacity, and this notebook's one worker on "
                "one core has none to add: once the core is busy, its throughput cannot grow "
                "with users whatever the code does, so the elasticity here is 0 by "
                "construction (the cost under load is measured and shown); what would test "
                "it: systems of known speed whose capacity is measured as hosts of equal size "
                "are added, a fast one that stops gaining and a slow one that keeps on (05's "
                "scale model adds hosts for two pages of one app, which decide C9, not this)"))
