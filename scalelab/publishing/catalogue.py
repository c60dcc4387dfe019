"""The lab's notebooks as a collection: which there are in reading order, where each one is,
and the Jupyter kernel they run in (below both executing and exporting them)."""

from __future__ import annotations

from pathlib import Path

from scalelab.plumbing import paths

NOTEBOOKS_DIR = paths.PROJECT_ROOT / "notebooks"
KERNEL = "scalelab"


def available() -> list[str]:
    """Every notebook of the collection in reading order: the primers (no servers), then the
    numbered notebooks."""
    primers = sorted(p.stem for p in NOTEBOOKS_DIR.glob("primer-*.ipynb"))
    return primers + sorted(p.stem for p in NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))


def resolve(name: str) -> Path:
    """'01', '01-baseline' or '01-baseline.ipynb' -> the notebook's path."""
    stem = Path(name).stem
    matches = [n for n in available() if n == stem or n.split("-", 1)[0] == stem]
    if len(matches) != 1:
        raise ValueError(f"notebook {name!r} not found; available: {', '.join(available())}")
    return NOTEBOOKS_DIR / f"{matches[0]}.ipynb"
