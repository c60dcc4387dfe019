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


def figure_text(value: float, unit: str = "×") -> str:
    """A verdict's figure as its verdict table writes it: three significant digits (whole,
    with thousands separated, from 1,000), then the unit; a share (unit ``%``) as a whole
    percentage. Prose that quotes a figure writes it this way, so both read alike."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "%":
        return f"{value:.0%}" if abs(value) < 10 else f"{value:.0f}%"
    if unit == "×":
        return f"{value:.3g}×"
    if abs(value) >= 1000:  # 2,000 votes/s, not 2e+03
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.3g} {unit}".strip()
