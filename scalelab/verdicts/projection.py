"""The utilisation-law projection of app replicas to N machines (notebook 05's arithmetic).

On one machine the replicas share the server CPUs; what several machines would give is
projected from the measured CPU per request by component (:func:`project`): each app machine
brings the app's share, while the balancer and the database (or the cache) stay one each.
05's rules (``scalelab.verdicts.rules.replicas``) decide with it, and
``scalelab.experiments.replicas`` re-exports it for the notebook.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from scalelab.plumbing.checks import check_int

PER_PROCESS = "per-process memory"  # the session engine that keeps sessions in each process


def project(costs: dict[str, float], machines: Sequence[int] = (1, 2, 4, 8, 16, 32),
            shared: Sequence[str] = ("db", "cache", "proxy")) -> pd.DataFrame:
    """Requests/s of N app machines, each with the server CPUs of this one, behind one
    balancer and one database and cache machine of the same size: N ÷ the app's CPU-seconds
    per request, capped by each shared server's 1 ÷ its own (the utilisation law). ``costs``:
    CPU-ms per request by component. Also the gain over one app machine and what limits it."""
    app = costs.get("app", 0.0)
    if not app or app <= 0:
        raise ValueError("costs must give the app's CPU-ms per request, above 0")
    caps = {c: 1000 / costs[c] for c in shared if costs.get(c, 0) > 0}
    rows = []
    for n in machines:
        check_int("machines", n, 1, 10_000)
        cands = {"app machines": n * 1000 / app, **{f"the {c} server": v
                                                   for c, v in caps.items()}}
        limit = min(cands, key=cands.get)
        rows.append({"machines": n, "req_s": cands[limit], "limited_by": limit})
    out = pd.DataFrame(rows)
    out["gain"] = out.req_s / out.req_s.iloc[0] if out.machines.iloc[0] == 1 else \
        out.req_s / min(1000 / app, *caps.values())
    return out


def costs_of(rows: pd.DataFrame) -> dict[str, float]:
    """Mean CPU-ms per request by component over ``rows`` (server-bound ones first)."""
    part = rows[rows["limit"] == "server"] if (rows["limit"] == "server").any() else rows
    return {c: float(part[f"cpu_ms_per_req_{c}"].mean()) for c in ("app", "db", "cache", "proxy")
            if f"cpu_ms_per_req_{c}" in part}
