"""The band a figure measured once is given: the lab's own window-to-window spread.

A figure with one repeat has no spread of its own, so ``rule.Estimate`` widens it by this
band either side before it meets a threshold. The band is measured, not assumed: every
server-bound point that the reference runs repeated gives the deviation of each window's CPU
per request from its point's median, and a ratio of two such windows (every figure is one)
moves by up to √2 times the 90th percentile of those deviations. ``record`` computes it from
``data/reference/`` and keeps it there (``window-spread.json``) whenever a reference run is
recorded; ``one_run_band`` reads it, or falls back to ``ASSUMED`` when none was recorded."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import pandas as pd

from scalelab.plumbing import paths

ASSUMED = 0.20        # the band before any reference run measured one (two quick runs: ±11%)
FILE = "window-spread.json"
QUANTILE = 0.90       # of the windows' deviations from their point's median
MIN_POINTS = 10       # repeated points needed before the measured band replaces ASSUMED
# the columns that tell one measured point from another within a result
POINT_KEYS = ("config", "variant", "users", "questions", "page", "index", "way", "target",
              "kind", "engine", "offered_rate")


def window_deviations(reference: Path | None = None) -> pd.DataFrame:
    """One row per window of a repeated server-bound point in the reference runs: where it is
    from and how far its server CPU per request was from the median of its point's windows."""
    base = Path(reference or paths.reference_dir())
    out = []
    for csv in sorted(base.glob("*/*.csv")):
        if csv.stem == "verdicts":
            continue
        rows = pd.read_csv(csv, low_memory=False)
        if not {"repeat", "cpu_ms_per_req_server", "limit"} <= set(rows.columns):
            continue
        rows = rows[(rows.limit == "server") & (rows.cpu_ms_per_req_server > 0)]
        keys = [k for k in POINT_KEYS if k in rows.columns]
        for key, point in rows.groupby(keys, dropna=False) if keys else []:
            if point.repeat.nunique() < 2:
                continue
            median = point.cpu_ms_per_req_server.median()
            for value in point.cpu_ms_per_req_server:
                out.append({"notebook": csv.parent.name, "result": csv.stem,
                            "point": " / ".join(str(k) for k in (key if isinstance(key, tuple)
                                                                  else (key,))),
                            "deviation": abs(value / median - 1)})
    return pd.DataFrame(out, columns=["notebook", "result", "point", "deviation"])


def measure(reference: Path | None = None) -> dict:
    """The band from the reference runs' windows (see the module's docstring), with what it
    was measured on; ``band`` is None when too few points were repeated."""
    dev = window_deviations(reference)
    points = dev.groupby(["notebook", "result", "point"]).ngroups if len(dev) else 0
    p90 = float(dev.deviation.quantile(QUANTILE)) if len(dev) else math.nan
    return {"band": round(math.sqrt(2) * p90, 3) if points >= MIN_POINTS else None,
            "window_deviation_p90": round(p90, 3) if points else None,
            "window_deviation_median": round(float(dev.deviation.median()), 3)
            if points else None,
            "points": points, "windows": int(len(dev)),
            "notebooks": sorted(dev.notebook.unique()) if len(dev) else []}


def record(reference: Path | None = None) -> dict:
    """Measure the band from ``reference`` and keep it there, whole or not at all."""
    base = Path(reference or paths.reference_dir())
    found = measure(base)
    paths.atomic_write_text(base / FILE, json.dumps(found, indent=1) + "\n")
    return found


def one_run_band(reference: Path | None = None) -> float:
    """The recorded band, or ``ASSUMED`` when no reference run recorded one."""
    where = Path(reference or paths.reference_dir()) / FILE
    try:
        return _read(where, where.stat().st_mtime_ns)
    except OSError:
        return ASSUMED


@functools.lru_cache(maxsize=8)
def _read(where: Path, _mtime: int) -> float:
    try:
        band = json.loads(where.read_text()).get("band")
    except (OSError, ValueError, AttributeError):
        return ASSUMED
    return float(band) if isinstance(band, (int, float)) and 0 < band < 1 else ASSUMED


def describe(band: float) -> str:
    """How a one-repeat figure's band reads in a verdict's numbers."""
    return (f"±{band:.0%} assumed" if band == ASSUMED
            else f"±{band:.0%}, the lab's window-to-window spread")
