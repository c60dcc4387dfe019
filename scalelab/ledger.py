"""The claims ledger in the README, regenerated from the verdicts the notebooks saved.

``scalelab ledger`` prints it; ``scalelab ledger --write-readme`` replaces the table between
the README's ledger markers. Claims no notebook has decided yet say where they will be tested.
"""

from __future__ import annotations

import pandas as pd

from . import claims, paths, results

START, END = "<!-- ledger:start -->", "<!-- ledger:end -->"


def table() -> str:
    ledger = claims.load()
    decided: dict[str, list[dict]] = {}
    for meta in sorted(paths.results_dir().glob("*/verdicts.json")):
        df, info = results.load(meta.parent.name, "verdicts")
        for row in df.to_dict("records"):
            row["mode"] = info.get("mode", "")
            decided.setdefault(row["claim"], []).append(row)
    lines = ["| claim | notebook | verdict | the number that decides it |",
             "|---|---|---|---|"]
    for cid, row in ledger.iterrows():
        short = row["claim"] if len(row["claim"]) <= 90 else row["claim"][:87] + "..."
        if cid in decided:  # one line per notebook that decided it
            for d in decided[cid]:
                mode = f" ({d['mode']} mode)" if d.get("mode") else ""
                lines.append(f"| {cid}: {short} | {d['notebook']} | **{d['verdict']}**{mode} | "
                             f"{d['number']} |")
        else:
            lines.append(f"| {cid}: {short} | {row['tested in']} (planned) | not yet tested | |")
    return "\n".join(lines)


def write_readme() -> bool:
    readme = paths.PROJECT_ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        raise ValueError(f"README.md has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{table()}\n{END}{tail}"
    changed = new != text
    if changed:
        results.atomic_write_text(readme, new)
    return changed
