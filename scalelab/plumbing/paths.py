"""Where the lab keeps things. Every location can be moved with an environment variable;
files that others read while we write them are replaced atomically (``atomic_write_text``).

- ``PROJECT_ROOT``: the checkout (the parent of this package).
- ``results_dir()``: tidy results of local runs, ``data/results/`` (``SCALELAB_RESULTS_DIR``;
  git ignores it). ``use_results_dir`` points it elsewhere, read only (reference mode does).
- ``reference_dir()``: the committed reference run, ``data/reference/``
  (``SCALELAB_REFERENCE_DIR``): written only by ``make reference``.
- ``runs_dir()``: one folder per stack run with every server's log, ``build/runs/``
  (``SCALELAB_RUNS_DIR``).
- ``state_dir()``: state that outlives a run and that the unprivileged database user must reach:
  PostgreSQL clusters with their seeded data sets, and run-state files for the reaper
  (``SCALELAB_STATE_DIR``; default ``/var/tmp/scalelab`` as root, else ``~/.cache/scalelab``).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = PROJECT_ROOT / "benchmark_app"
LOCUSTFILES = PROJECT_ROOT / "scalelab" / "load" / "locustfiles"


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


_RESULTS_OVERRIDE: dict[str, Path | str | None] = {"dir": None, "read_only": None}


def use_results_dir(folder: Path | None, read_only: str | None = None) -> tuple:
    """Read results from ``folder`` instead of the local runs' folder (None: back to it).
    ``read_only``, if given, is the reason every write into that folder is refused. Returns
    what was set before, as arguments that set it again."""
    before = (_RESULTS_OVERRIDE["dir"], _RESULTS_OVERRIDE["read_only"])
    _RESULTS_OVERRIDE.update(dir=Path(folder) if folder else None,
                             read_only=read_only if folder else None)
    return before


def results_dir() -> Path:
    """Where results are read and written: the local runs' folder, or the one that
    ``use_results_dir`` named."""
    if _RESULTS_OVERRIDE["dir"] is not None:
        return _RESULTS_OVERRIDE["dir"]
    return _env_path("SCALELAB_RESULTS_DIR", PROJECT_ROOT / "data" / "results")


class ReadOnlyError(RuntimeError):
    """A write into a folder that ``use_results_dir`` made read only."""


def refuse_write(path: Path) -> None:
    """Raise if ``path`` lies in a read-only results folder."""
    folder, reason = _RESULTS_OVERRIDE["dir"], _RESULTS_OVERRIDE["read_only"]
    if folder is None or reason is None:
        return
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return
    raise ReadOnlyError(f"{reason}: writing {relative(path)} is refused")


def reference_dir() -> Path:
    return _env_path("SCALELAB_REFERENCE_DIR", PROJECT_ROOT / "data" / "reference")


def runs_dir() -> Path:
    return _env_path("SCALELAB_RUNS_DIR", PROJECT_ROOT / "build" / "runs")


def state_dir() -> Path:
    if os.geteuid() == 0:
        default = Path("/var/tmp/scalelab")
    else:
        default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scalelab"
    return _env_path("SCALELAB_STATE_DIR", default)


def relative(path: Path | str) -> str:
    """A path as shown to readers: relative to the project when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(p)


def remove_stale_temps(folder: Path, name: str = "*") -> list[Path]:
    """Remove the temporary files (of ``name``, or of any file) that a writer killed before
    its rename left in ``folder``: those whose process is gone. Returns what was removed."""
    removed = []
    for stale in Path(folder).glob(f".{name}.*.tmp"):
        pid = stale.name.rsplit(".", 2)[-2]
        if pid.isdigit() and int(pid) != os.getpid() and not os.path.exists(f"/proc/{pid}"):
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def write_temp(path: Path, text: str | bytes) -> Path:
    """Write ``text`` (or bytes) to a temporary file beside ``path`` and sync it; remove it on
    error."""
    refuse_write(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, path.name)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no temporary file behind
        raise
    return tmp


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` at once: a reader sees the old file or the new one."""
    os.replace(write_temp(path, text), path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """``atomic_write_text`` for bytes (a PDF)."""
    os.replace(write_temp(path, bytes(data)), path)
