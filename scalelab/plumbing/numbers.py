"""Numbers as prose shows them (``fmt``): rounded to significant digits, thousands separated,
never in scientific notation."""

from __future__ import annotations

import math


def fmt(value: float, digits: int = 2) -> str:
    """A number for prose: rounded to significant digits, no scientific notation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        return "≈ 0"
    magnitude = int(math.floor(math.log10(abs(value))))
    decimals = max(0, digits - 1 - magnitude)
    return f"{round(value, decimals):,.{decimals}f}"
