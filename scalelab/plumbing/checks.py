"""Checks on a parameter that refuse a bad value by the parameter's name and what is allowed;
the ranges live beside what they limit (e.g. ``servers.appserver.WORKERS``)."""

from __future__ import annotations

import re
from typing import Any

LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, not {value!r}")


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, not {value!r}")


def check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")


def check_number(name: str, value: Any, low: float, high: float, low_open: bool = False,
                 high_open: bool = False) -> float:
    """A real number (not a bool, not NaN) from ``low`` to ``high``, either end open; else a
    ValueError naming the parameter and the range. Returns it as a float."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not (value > low if low_open else value >= low) \
            or not (value < high if high_open else value <= high):
        span = (f"{'above' if low_open else 'from'} {low:g} and "
                f"{'below' if high_open else 'at most'} {high:g}")
        raise ValueError(f"{name} must be a number {span}, not {value!r}")
    return float(value)


def check_label(label: object, parameter: str = "label") -> str:
    """A label names a run folder: 1 to 64 letters, digits, '.', '_' or '-', not starting
    with a symbol (no path, nothing a file system refuses); else a ValueError naming it."""
    if not isinstance(label, str) or not LABEL_RE.fullmatch(label):
        raise ValueError(f"{parameter} must be 1 to 64 letters, digits, '.', '_' or '-' (not "
                         f"starting with a symbol: it names a run folder), not {label!r}")
    return label
