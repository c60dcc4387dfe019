"""Publish the lab's notebooks: execute them (papermill) and export them to HTML and slides
(nbconvert, in ``export``), as ``make reproduce`` does. (Helpers used *inside* a notebook are in
``notebook``; which notebooks there are is ``catalogue``'s, its names are also here.)"""

from __future__ import annotations

import os
import time
from pathlib import Path

from scalelab.plumbing import paths
from scalelab.plumbing.kernel import HEADLESS
from scalelab.publishing.catalogue import KERNEL, NOTEBOOKS_DIR, available, resolve  # noqa: F401
from scalelab.publishing.export import export_notebook


def execute(name: str, mode: str = "quick", out_dir: Path | None = None,
            html_dir: Path | None = None, slides: bool = False, timeout: int = 1800,
            kernel: str = KERNEL) -> dict:
    """Run one notebook top to bottom with MODE injected; write it and its HTML export."""
    import papermill

    if mode not in ("quick", "full", "reference"):
        raise ValueError(f"mode must be 'quick', 'full' or 'reference', not {mode!r}")
    src = resolve(name)
    if mode == "reference":
        from scalelab.results import reference

        reference.machine()  # no reference to show: say so here, not inside the kernel
    out_dir = Path(out_dir or paths.PROJECT_ROOT / "build" / "notebooks")
    if html_dir is not False:
        html_dir = Path(html_dir or paths.PROJECT_ROOT / "build" / "html")
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / src.name
    t0 = time.perf_counter()
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ["SCALELAB_PROGRESS"] = "0"  # progress bars would fill the saved outputs
    # no live widgets in a headless run: nobody can move them, the exported page cannot run
    # them, and nbclient can block on a widget's messages (jupyter/nbclient#312)
    os.environ[HEADLESS] = "1"
    papermill.execute_notebook(str(src), str(executed), parameters={"MODE": mode},
                               kernel_name=kernel, cwd=str(NOTEBOOKS_DIR), progress_bar=False,
                               execution_timeout=timeout, log_output=False,
                               # the kernel's own log: errors only (not ipykernel's warning
                               # that a loopback kernel talks TCP without encryption)
                               extra_arguments=["--IPKernelApp.log_level=ERROR"])
    seconds = time.perf_counter() - t0
    if mode != "reference":  # reference mode measures nothing, and takes seconds
        record_time(src.stem, mode, seconds)
    result = {"notebook": src.stem, "mode": mode, "seconds": seconds, "executed": executed}
    if html_dir is not False:
        result.update(export_notebook(executed, html_dir, slides=slides))
    return result


def strip_volatile(path: Path) -> None:
    """Remove what changes on every run and says nothing about the results: papermill's
    metadata and timings of the notebook and of each cell, widget state."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    paths.atomic_write_text(path, nbformat.writes(nb) + "\n")


def record_reference(name: str, quick_timing: bool = True, timeout: int = 7200) -> dict:
    """Run notebook ``name`` in full mode with its results in a staging folder, check them,
    and replace its reference (``data/reference/<notebook>/``: results, run times, the
    executed notebook with volatile metadata stripped), ``data/reference/machine.json`` and
    the band one-repeat figures are given (``verdicts.band``).
    With ``quick_timing``, a quick run follows whose run time only is kept (notebooks quote
    it); its results are thrown away. Nothing is replaced if anything fails."""
    import json
    import shutil

    from scalelab import results
    from scalelab.plumbing.cpus import default_layout
    from scalelab.verdicts import band

    stem = resolve(name).stem
    staging = paths.PROJECT_ROOT / "build" / "reference-run" / time.strftime("%Y%m%dT%H%M%S")
    previous = os.environ.get("SCALELAB_RESULTS_DIR")
    try:
        os.environ["SCALELAB_RESULTS_DIR"] = str(staging / "full")
        full = execute(stem, mode="full", out_dir=staging / "notebooks", html_dir=False,
                       timeout=timeout)
        folder = staging / "full" / stem
        problems = results.consistency(stem)
        if problems:
            raise RuntimeError(f"the reference run of {stem} is not one complete run: {problems}")
        if quick_timing:
            os.environ["SCALELAB_RESULTS_DIR"] = str(staging / "quick")
            execute(stem, mode="quick", out_dir=staging / "quick-notebooks", html_dir=False,
                    timeout=timeout)
            shutil.copy(staging / "quick" / stem / "timing-quick.json", folder)
    finally:
        if previous is None:
            os.environ.pop("SCALELAB_RESULTS_DIR", None)
        else:
            os.environ["SCALELAB_RESULTS_DIR"] = previous
    executed = folder / f"{stem}.ipynb"
    shutil.copy(full["executed"], executed)
    strip_volatile(executed)
    ref = paths.reference_dir()
    ref.mkdir(parents=True, exist_ok=True)
    target, old = ref / stem, ref / f".{stem}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    shutil.copytree(folder, target)
    shutil.rmtree(old, ignore_errors=True)
    paths.atomic_write_text(ref / "machine.json", json.dumps({
        "mode": "full", "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": results.environment(), "layout": default_layout().as_dict(),
        "note": "the machine of the last `make reference`; each result's own .json says "
                "on what it was measured"}, indent=2) + "\n")
    band.record(ref)  # the band a figure measured once is given, from every reference run
    shutil.rmtree(staging, ignore_errors=True)
    return {"notebook": stem, "seconds": full["seconds"], "reference": target}


def stale_reference(name: str) -> str:
    """Why the executed copy the reference keeps of notebook ``name``
    (``data/reference/<notebook>/<notebook>.ipynb``) is not the notebook as it is, or '' if
    it is: every cell of the source, in order, with the same type and text (papermill's
    injected parameters left out). A copy recorded before a cell changed shows readers what
    the notebook no longer says."""
    import nbformat

    stem = resolve(name).stem
    copy = paths.reference_dir() / stem / f"{stem}.ipynb"
    if not copy.exists():
        return f"no executed copy in {paths.relative(copy)}"

    def cells(path: Path) -> list[tuple[str, str]]:
        nb = nbformat.read(path, as_version=4)
        return [(c.cell_type, c.source) for c in nb.cells
                if "injected-parameters" not in c.metadata.get("tags", [])]

    source, kept = cells(resolve(name)), cells(copy)
    for i, (a, b) in enumerate(zip(source, kept)):
        if a != b:
            return f"cell {i} differs: the source's begins {a[1][:60]!r}, the copy's {b[1][:60]!r}"
    if len(source) != len(kept):
        return f"the source has {len(source)} cells, the copy {len(kept)}"
    return ""


def record_time(notebook: str, mode: str, seconds: float) -> None:
    """Save how long a notebook took (``<results>/<notebook>/timing-<mode>.json``): the README
    and the notebook itself quote it instead of a guess."""
    import json

    folder = paths.results_dir() / notebook
    folder.mkdir(parents=True, exist_ok=True)
    paths.atomic_write_text(folder / f"timing-{mode}.json", json.dumps(
        {"notebook": notebook, "mode": mode, "seconds": round(seconds, 1),
         "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2) + "\n")


def measured_time(notebook: str, mode: str, reference_only: bool = False) -> float | None:
    """Seconds the last run of ``notebook`` took in ``mode``: this machine's last run, else
    the reference machine's (only that with ``reference_only``); None if neither was
    recorded."""
    import json

    folders = [paths.reference_dir()] if reference_only else [paths.results_dir(),
                                                              paths.reference_dir()]
    for folder in folders:
        try:
            data = json.loads((folder / notebook / f"timing-{mode}.json").read_text())
            return float(data["seconds"])
        except (OSError, ValueError, KeyError):
            continue
    return None
