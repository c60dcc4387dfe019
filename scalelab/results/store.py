"""Tidy results on disk: ``data/results/<notebook>/<name>.csv`` plus ``<name>.json`` metadata.

Writes are atomic (a temporary file renamed over the old one), and a :class:`ResultWriter`
rewrites its CSV after every finished point, so an interrupted sweep keeps what it measured.
The metadata says on what this was measured (``machine.environment``: cores, CPU model,
versions of Python, Django, every server and Locust, the git commit), the mode, the
parameters and the CPU pinning.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from scalelab.plumbing import paths
from scalelab.results.machine import environment
from scalelab.plumbing.paths import write_temp as _write_temp

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"{kind} must be letters, digits, '.', '_' or '-' (up to 100, not "
                         f"starting with a symbol), not {name!r}")
    return name


def check_writable(notebook: str) -> Path:
    """Fail now, naming the folder, if results of ``notebook`` cannot be written (before a
    measurement, not after it)."""
    folder = paths.results_dir() / _check_name("notebook", notebook)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        paths.remove_stale_temps(folder)  # left by a save that was killed, whatever its name
        probe = folder / f".write-test.{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise PermissionError(f"results cannot be written to {folder} ({exc.strerror}); "
                              "set SCALELAB_RESULTS_DIR to a writable folder") from None
    return folder


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def session() -> str:
    """This process, as saved results name it: results of one notebook run (one kernel) share
    it, so a verdict can be checked against the rows it was decided on (``consistency``)."""
    from scalelab.plumbing.runs import owner_token

    return owner_token()


def result_path(notebook: str, name: str) -> Path:
    return paths.results_dir() / _check_name("notebook", notebook) / f"{_check_name('name', name)}.csv"


def save(df: pd.DataFrame, notebook: str, name: str, mode: str = "", params: dict | None = None,
         stack: Any = None, workload: Any = None, extra: dict | None = None) -> Path:
    """Write ``df`` and its metadata atomically; return the CSV path."""
    csv_path = result_path(notebook, name)
    meta = {
        "notebook": notebook,
        "name": name,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "session": session(),
        "mode": mode,
        "rows": int(len(df)),
        "params": params or {},
        "environment": environment(),
    }
    if stack is not None:
        meta["stack"] = stack.describe() if hasattr(stack, "describe") else stack
        layout = meta["stack"].get("layout") if isinstance(meta["stack"], dict) else None
        if layout:
            meta["pinning"] = layout
    if workload is not None:
        meta["workload"] = workload.describe() if hasattr(workload, "describe") else workload
    if extra:
        meta.update(extra)
    # Both files are written in full before either replaces its old version (a full disk
    # changes nothing); the metadata, renamed last, carries the CSV's digest, so a reader can
    # tell a pair cut apart by a kill between the two renames (see load).
    text = df.to_csv(index=False)
    meta["csv_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    csv_tmp = None
    try:
        csv_tmp = _write_temp(csv_path, text)
        json_tmp = _write_temp(csv_path.with_suffix(".json"),
                               json.dumps(_jsonable(meta), indent=2))
    except OSError as exc:
        if csv_tmp is not None:
            csv_tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, f"result {notebook}/{name} could not be saved to "
                                 f"{paths.relative(csv_path.parent)} ({exc.strerror}); the "
                                 "earlier save, if any, is unchanged; set "
                                 "SCALELAB_RESULTS_DIR to a writable folder") from None
    except BaseException:
        if csv_tmp is not None:
            csv_tmp.unlink(missing_ok=True)
        raise
    os.replace(csv_tmp, csv_path)
    os.replace(json_tmp, csv_path.with_suffix(".json"))
    return csv_path


def load_reference(notebook: str, name: str) -> pd.DataFrame:
    """Rows of another notebook's reference run (``data/reference/``), to set its figures
    beside this one's: ratios hold between runs better than absolute costs."""
    path = paths.reference_dir() / _check_name("notebook", notebook) / \
        f"{_check_name('name', name)}.csv"
    if not path.exists():
        raise FileNotFoundError(f"no reference result {name!r} of {notebook!r} in "
                                f"{paths.relative(path.parent)}")
    return pd.read_csv(path)


def reference_meta(notebook: str, name: str) -> dict:
    """The metadata of another notebook's reference result: when, on what machine, at what
    commit it was measured."""
    path = paths.reference_dir() / _check_name("notebook", notebook) / \
        f"{_check_name('name', name)}.json"
    if not path.exists():
        raise FileNotFoundError(f"no reference result {name!r} of {notebook!r} in "
                                f"{paths.relative(path.parent)}")
    return json.loads(path.read_text())


def load(notebook: str, name: str) -> tuple[pd.DataFrame, dict]:
    """Read a saved result and its metadata."""
    csv_path = result_path(notebook, name)
    if not csv_path.exists():
        available = sorted(p.stem for p in csv_path.parent.glob("*.csv")) \
            if csv_path.parent.exists() else []
        raise FileNotFoundError(f"no result {name!r} for notebook {notebook!r} in "
                                f"{paths.relative(csv_path.parent)}; available: {available}")
    text = csv_path.read_text()
    try:
        meta = json.loads(csv_path.with_suffix(".json").read_text())
    except (FileNotFoundError, ValueError):
        meta = {"notebook": notebook, "name": name}
        meta["csv_sha256"] = None
    try:
        df = pd.read_csv(io.StringIO(text)) if text.strip() else pd.DataFrame()
    except (pd.errors.ParserError, ValueError) as exc:
        raise ValueError(f"result {notebook}/{name} cannot be read: "
                         f"{paths.relative(csv_path)} is not a whole CSV ({exc}); measure it "
                         "again or delete it") from None
    if meta.get("csv_sha256", "absent") not in ("absent", hashlib.sha256(text.encode()).hexdigest()):
        # a save was cut between its CSV and its metadata: the CSV is the newer, keep it and
        # say that the metadata describes an earlier save
        meta.update(rows=int(len(df)), incomplete=True,
                    note="the last save was interrupted between the CSV and its metadata; "
                         "the metadata above the rows count is from the save before")
    if meta.get("incomplete"):
        warnings.warn(f"result {notebook}/{name} is incomplete: "
                      f"{meta.get('note', 'its measurement did not finish')}", stacklevel=2)
    return df, meta


def consistency(notebook: str) -> str:
    """'' when a notebook's saved verdicts and results come from one complete run; else why
    not (a result from another session, or an incomplete one): a verdict never mixes runs."""
    folder = paths.results_dir() / _check_name("notebook", notebook)
    metas = {}
    for meta_path in sorted(folder.glob("*.json")):
        try:
            metas[meta_path.stem] = json.loads(meta_path.read_text())
        except ValueError:
            continue
    verdicts = metas.pop("verdicts", None)
    if verdicts is None:
        return ""
    problems = [f"{name} is incomplete" for name, m in metas.items() if m.get("incomplete")]
    own = verdicts.get("session")
    if own:
        problems += [f"{name} comes from another run" for name, m in metas.items()
                     if m.get("session") and m["session"] != own]
    return "; ".join(problems)


def list_results(notebook: str | None = None) -> pd.DataFrame:
    """One row per saved result: notebook, name, rows, mode, saved."""
    base = paths.results_dir()
    if notebook is not None:
        _check_name("notebook", notebook)
    rows = []
    for meta_path in sorted(base.glob(f"{notebook or '*'}/*.json")):
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            continue
        rows.append({k: meta.get(k) for k in ("notebook", "name", "rows", "mode", "saved")})
    return pd.DataFrame(rows)


# the writer whose last save of (notebook, name) was of a measurement not yet finished
_UNFINISHED: dict[tuple[str, str], "ResultWriter"] = {}


def unfinished() -> list["ResultWriter"]:
    """The writers of this process whose result's last save was of a measurement not yet
    finished (interrupted, or still running), oldest first: what an interrupt kept, and
    where. A result saved whole since, by any writer of its name, is not among them."""
    return list(_UNFINISHED.values())


class ResultWriter:
    """Collects rows and saves them after each one, so nothing finished is lost.

    Until ``finish()`` (which ``sweep``, ``compare`` and ``wrk.compare`` call when they end),
    the saved result says it is incomplete, and ``load`` warns about it."""

    def __init__(self, notebook: str, name: str, **save_kwargs: Any):
        from scalelab.results import reference

        result_path(notebook, name)  # validate names now, not after the first point
        self.replaying = reference.shown()
        if not self.replaying:
            check_writable(notebook)  # and the folder: a measurement must not be lost
        self.notebook, self.name, self.save_kwargs = notebook, name, save_kwargs
        self.rows: list[dict] = []
        self.path: Path | None = None

    def recorded(self) -> pd.DataFrame:
        """The rows this writer's name holds in the reference run (reference mode)."""
        from scalelab.measurement.point import frame

        df, _ = load(self.notebook, self.name)
        return frame(df.to_dict("records"))

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)

    def add(self, row: dict) -> None:
        self.rows.append(dict(row))
        self._save(complete=False)
        _UNFINISHED[(self.notebook, self.name)] = self

    __call__ = add

    def finish(self) -> None:
        """The measurement ended: save the rows as a complete result."""
        if self.rows:
            self._save(complete=True)
            _UNFINISHED.pop((self.notebook, self.name), None)

    def _save(self, complete: bool) -> None:
        extra = {**(self.save_kwargs.get("extra") or {}), "incomplete": not complete}
        if not complete:
            extra["note"] = ("saved point by point while measuring; the measurement had not "
                             "finished (interrupted, or still running)")
        kwargs = {**self.save_kwargs, "extra": extra}
        self.path = save(pd.DataFrame(self.rows), self.notebook, self.name, **kwargs)


def saver(notebook: str, **save_kwargs: Any):
    """``saver(NB, mode=MODE, params=vars(S))("sweep", stack=stack)``: a ``ResultWriter`` for
    each named result of a notebook, sharing its metadata. Pass it as ``on_point``: it saves
    every finished point, and in reference mode names the recorded rows to show instead."""
    _check_name("notebook", notebook)

    def writer(name: str, **more: Any) -> ResultWriter:
        return ResultWriter(notebook, name, **{**save_kwargs, **more})

    return writer


def keep(rows: list, rec: dict, on_point: Any) -> None:
    """A measured row: add it to ``rows`` and hand it to ``on_point`` (saved at once)."""
    rows.append(rec)
    if on_point:
        on_point(rec)


def done(rows: list, on_point: Any) -> pd.DataFrame:
    """The measurement ended: tell ``on_point`` (``finished``) and return the rows."""
    finished(on_point)
    return pd.DataFrame(rows)


def finished(on_point: Any) -> None:
    """Tell an ``on_point`` that can be told (a ``ResultWriter``) that the measurement ended."""
    if hasattr(on_point, "finish"):
        on_point.finish()
