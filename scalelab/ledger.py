"""The claims ledger in the README, regenerated from the verdicts the notebooks saved.

``scalelab ledger`` prints it; ``scalelab ledger --write-readme`` replaces the table between
the README's ledger markers. Claims no notebook has decided yet say where they will be tested.
"""

from __future__ import annotations

from . import claims, paths, results

START, END = "<!-- ledger:start -->", "<!-- ledger:end -->"


def _cell(text) -> str:
    return str(text if text == text else "").replace("|", "\\|").replace("\n", " ")


def table() -> str:
    """The README's ledger: every claim, and for each notebook that decided it the verdict,
    the deciding number, the points used and the rule, as saved by ``notebook.decide``."""
    ledger = claims.load()
    decided: dict[str, list[dict]] = {}
    for meta in sorted(paths.results_dir().glob("*/verdicts.json")):
        df, info = results.load(meta.parent.name, "verdicts")
        mixed = results.consistency(meta.parent.name)
        for row in df.to_dict("records"):
            row["mode"] = row.get("mode") or info.get("mode", "")
            row["mixed"] = mixed
            decided.setdefault(row["claim"], []).append(row)
    lines = ["| claim | notebook | verdict | the number that decides it | points used | rule |",
             "|---|---|---|---|---|---|"]
    for cid, row in ledger.iterrows():
        short = row["claim"] if len(row["claim"]) <= 90 else row["claim"][:87] + "..."
        if cid in decided:  # one line per notebook that decided it
            for d in decided[cid]:
                mode = " (preliminary: quick mode)" if d.get("mode") == "quick" else ""
                why = (f": {_cell(d.get('note'))}" if d["verdict"] == "inconclusive"
                       and d.get("note") == d.get("note") and d.get("note") else "")
                mixed = (f" (**not from one complete run**: {_cell(d['mixed'])}; rerun "
                         "the notebook)" if d["mixed"] else "")
                lines.append(f"| {cid}: {_cell(short)} | {d['notebook']} | "
                             f"**{d['verdict']}**{mode}{mixed}{why} | {_cell(d.get('number'))} | "
                             f"{_cell(d.get('points'))} | {_cell(d.get('rule'))} |")
        else:
            lines.append(f"| {cid}: {_cell(short)} | {row['tested in']} (planned) | "
                         "not yet tested | | | |")
    return "\n".join(lines)


TIMES_START, TIMES_END = "<!-- times:start -->", "<!-- times:end -->"


def times() -> str:
    """The README's sentence on how long the notebooks take, from their recorded runs."""
    from .publish import available, measured_time

    parts, total = [], 0.0
    for name in available():
        seconds = measured_time(name, "quick")
        if seconds is None:
            return "Quick mode times are recorded by `make reproduce` (none recorded yet)."
        parts.append(f"{name.split('-', 1)[0]} {seconds:.0f} s")
        total += seconds
    return (f"Quick mode, as last measured by `make reproduce` with the committed results: "
            f"{', '.join(parts)}; {total / 60:.1f} minutes in all.")


def _replace(text: str, start: str, end: str, body: str) -> str:
    if start not in text or end not in text:
        raise ValueError(f"README.md has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}{body}{end}{tail}"


def write_readme() -> bool:
    readme = paths.PROJECT_ROOT / "README.md"
    text = readme.read_text()
    new = _replace(text, START, END, f"\n{table()}\n")
    new = _replace(new, TIMES_START, TIMES_END, times())
    changed = new != text
    if changed:
        paths.atomic_write_text(readme, new)
    return changed
