"""The claims ledger (docs/claims.md, a copy of the brief's ledger) as a table."""

from __future__ import annotations

import pandas as pd

from scalelab.plumbing import paths

LEDGER = paths.PROJECT_ROOT / "docs" / "claims.md"


def load() -> pd.DataFrame:
    """One row per claim: id, claim, where it is tested."""
    rows = []
    for line in LEDGER.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("C") and cells[0][1:].isdigit():
            rows.append({"id": cells[0], "claim": cells[1], "tested in": cells[2]})
    if not rows:
        raise ValueError(f"no claims found in {paths.relative(LEDGER)}")
    return pd.DataFrame(rows).set_index("id")
