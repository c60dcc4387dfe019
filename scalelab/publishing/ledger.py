"""The claims ledger in the README, generated from the reference run (``data/reference/``).

``scalelab ledger`` prints it; ``scalelab ledger --write-readme`` (run by ``make reference``)
replaces the table and the run times between the README's markers. Local runs never change
it. Claims no notebook has decided yet say where they will be tested.
"""

from __future__ import annotations

import json

import pandas as pd

from scalelab.verdicts import claims
from scalelab.verdicts.rule import UNTESTABLE
from scalelab.plumbing import paths

START, END = "<!-- ledger:start -->", "<!-- ledger:end -->"


def _cell(text) -> str:
    return str(text if text == text else "").replace("|", "\\|").replace("\n", " ")


def _recorded(info: dict) -> str:
    env = info.get("environment", {})
    return (f"{str(info.get('saved', ''))[:10]}, {env.get('cores', '?')} cores "
            f"({env.get('cpu_model', '?')}), commit {str(env.get('git_commit', '?'))[:7]}")


def table() -> str:
    """The README's ledger: every claim, and for each notebook that decided it in the reference
    run the verdict, the deciding number, the rule, and when and on what it was measured."""
    ledger = claims.load()
    decided: dict[str, list[dict]] = {}
    base = paths.reference_dir()
    for verdicts in sorted(base.glob("*/verdicts.csv")):
        df = pd.read_csv(verdicts)
        info = json.loads(verdicts.with_suffix(".json").read_text())
        for row in df.to_dict("records"):
            row["recorded"] = _recorded(info)
            decided.setdefault(row["claim"], []).append(row)
    lines = ["| claim | notebook | verdict | the number that decides it | rule | recorded |",
             "|---|---|---|---|---|---|"]
    for cid, row in ledger.iterrows():
        short = row["claim"] if len(row["claim"]) <= 90 else row["claim"][:87] + "..."
        if cid in decided:  # one line per notebook that decided it
            for d in decided[cid]:
                mode = f" ({d['mode']} mode)" if d.get("mode") != "full" else ""
                why = (f": {_cell(d.get('note'))}" if d["verdict"] in ("inconclusive", UNTESTABLE)
                       and d.get("note") == d.get("note") and d.get("note") else "")
                lines.append(f"| {cid}: {_cell(short)} | {d['notebook']} | "
                             f"**{d['verdict']}**{mode}{why} | {_cell(d.get('number'))} | "
                             f"{_cell(d.get('rule'))} | {_cell(d['recorded'])} |")
        else:
            lines.append(f"| {cid}: {_cell(short)} | {row['tested in']} (planned) | "
                         "not yet tested | | | |")
    return "\n".join(lines)


TIMES_START, TIMES_END = "<!-- times:start -->", "<!-- times:end -->"


def times() -> str:
    """The README's sentence on how long the notebooks take, from the reference machine."""
    from scalelab.publishing.execution import available, measured_time

    out = []
    for mode in ("quick", "full"):
        parts, total = [], 0.0
        for name in available():
            seconds = measured_time(name, mode, reference_only=True)
            if seconds is None:
                continue
            parts.append(f"{name.split('-', 1)[0]} {seconds:.0f} s")
            total += seconds
        if parts:
            out.append(f"{mode} mode {', '.join(parts)} ({total / 60:.0f} minutes in all)")
    if not out:
        return "Run times are recorded by `make reference` (none recorded yet)."
    return "On the reference machine (`make reference`): " + "; ".join(out) + "."


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
