"""Publish the lab's notebooks: execute them (papermill) and export them to HTML and slides
(nbconvert), as ``make reproduce`` does. (Helpers used *inside* a notebook are in ``notebook``.)"""

from __future__ import annotations

import os
import time
from pathlib import Path

from . import paths

NOTEBOOKS_DIR = paths.PROJECT_ROOT / "notebooks"
KERNEL = "scalelab"


def available() -> list[str]:
    return sorted(p.stem for p in NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))


def resolve(name: str) -> Path:
    """'01', '01-baseline' or '01-baseline.ipynb' -> the notebook's path."""
    stem = Path(name).stem
    matches = [n for n in available() if n == stem or n.split("-", 1)[0] == stem]
    if len(matches) != 1:
        raise ValueError(f"notebook {name!r} not found; available: {', '.join(available())}")
    return NOTEBOOKS_DIR / f"{matches[0]}.ipynb"


def execute(name: str, mode: str = "quick", out_dir: Path | None = None,
            html_dir: Path | None = None, slides: bool = False, timeout: int = 1800,
            kernel: str = KERNEL) -> dict:
    """Run one notebook top to bottom with MODE injected; write it and its HTML export."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter, SlidesExporter

    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', not {mode!r}")
    src = resolve(name)
    out_dir = Path(out_dir or paths.PROJECT_ROOT / "build" / "notebooks")
    html_dir = Path(html_dir or paths.PROJECT_ROOT / "build" / "html")
    out_dir.mkdir(parents=True, exist_ok=True)
    html_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / src.name
    t0 = time.perf_counter()
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ["SCALELAB_PROGRESS"] = "0"  # progress bars would fill the saved outputs
    papermill.execute_notebook(str(src), str(executed), parameters={"MODE": mode},
                               kernel_name=kernel, cwd=str(NOTEBOOKS_DIR), progress_bar=False,
                               execution_timeout=timeout, log_output=False)
    seconds = time.perf_counter() - t0
    record_time(src.stem, mode, seconds)
    nb = nbformat.read(executed, as_version=4)
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    html_path = html_dir / f"{src.stem}.html"
    html_path.write_text(html)
    result = {"notebook": src.stem, "mode": mode, "seconds": seconds,
              "executed": executed, "html": html_path}
    if slides:
        body, _ = SlidesExporter().from_notebook_node(nb)
        slides_path = html_dir / f"{src.stem}.slides.html"
        slides_path.write_text(body)
        result["slides"] = slides_path
    return result


def record_time(notebook: str, mode: str, seconds: float) -> None:
    """Save how long a notebook took (``<results>/<notebook>/timing-<mode>.json``): the README
    and the notebook itself quote it instead of a guess."""
    import json

    folder = paths.results_dir() / notebook
    folder.mkdir(parents=True, exist_ok=True)
    paths.atomic_write_text(folder / f"timing-{mode}.json", json.dumps(
        {"notebook": notebook, "mode": mode, "seconds": round(seconds, 1),
         "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2) + "\n")


def measured_time(notebook: str, mode: str) -> float | None:
    """Seconds the last recorded run of ``notebook`` took in ``mode``, or None."""
    import json

    try:
        data = json.loads((paths.results_dir() / notebook / f"timing-{mode}.json").read_text())
        return float(data["seconds"])
    except (OSError, ValueError, KeyError):
        return None
