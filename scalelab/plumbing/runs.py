"""Run state and the reaper: no server of ours outlives its owner.

Three layers, so that a crash of any kind leaves nothing behind for long:
1. every server runs in its own process group (mirakuru's ``setsid``) and is stopped as a group;
2. every server gets a parent-death signal (``setpriv --pdeathsig``), so it dies with the
   harness process even on SIGKILL;
3. every process we start carries ``SCALELAB_OWNER=<pid>:<start time>`` in its environment,
   and each run writes a state file; :func:`reap_stale` (called whenever a run starts, and
   by ``scalelab reap``) kills what belongs to an owner that is gone.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from scalelab.plumbing import paths
from scalelab.plumbing.checks import check_label  # noqa: F401 - runs name their folders by it

OWNER_VAR = "SCALELAB_OWNER"
RUN_VAR = "SCALELAB_RUN"
KEEP_RUN_DIRS = 100


def label_of(text: str) -> str:
    """A run folder's label made from any text (a configuration's name): every run of other
    characters becomes one '-', cut to the 64 characters a label may have."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:64] or "run"


def _start_ticks(pid: int) -> int:
    """A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat).

    Unlike psutil's create_time(), which adds the boot time read from /proc/stat (and that
    jitters by a second on some virtual machines), this never changes for a process, so two
    harnesses always agree on whether an owner is the same process."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return int(data[data.rindex(b")") + 2:].split()[19])


def owner_token(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{pid}:{_start_ticks(pid)}"


def _owner_alive(token: str) -> bool:
    try:
        pid_s, ticks = token.split(":", 1)
        pid = int(pid_s)
        return str(_start_ticks(pid)) == ticks and \
            psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (ValueError, OSError, IndexError, psutil.Error):
        return False


def _marked() -> list[tuple[psutil.Process, str]]:
    """Every other live process that carries our marker, with its owner token.

    Fresh ``psutil.Process`` objects, not ``process_iter``'s cache: after the pid numbers wrap
    around (a long test suite starts tens of thousands of processes), a cached object may stand
    for an earlier process with the same pid, and psutil then refuses to signal the new one."""
    found = []
    me = os.getpid()
    for pid in psutil.pids():
        if pid == me:
            continue
        try:
            proc = psutil.Process(pid)
            token = proc.environ().get(OWNER_VAR)
        except (psutil.Error, OSError):
            continue
        if token is not None:
            found.append((proc, token))
    return found


def processes_of_dead_owners() -> list[psutil.Process]:
    """Every process carrying our marker whose owner process is gone."""
    return [proc for proc, token in _marked() if token and not _owner_alive(token)]


def _terminate(procs: list[psutil.Process], grace: float = 3.0) -> list[int]:
    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)
    return [p.pid for p in procs]


STAMP = "%Y%m%d-%H%M%S"  # a run id's first part: when it was made, local time


def run_id_of(stamp: str, label: str, pid: int, n: int) -> str:
    """A run's id, ``<stamp>-<label>-<pid>-<n>``: when, what, which process made it, and a
    counter for runs one process makes within a second (``maker_of`` reads it back)."""
    return f"{stamp}-{label}-{pid}-{n}"


def maker_of(run_id: str) -> tuple[int, float]:
    """The pid that made run ``run_id`` and when (Unix seconds, to the second); ValueError
    for what ``run_id_of`` did not make."""
    try:
        pid = int(run_id.rsplit("-", 2)[1])
        made = time.mktime(time.strptime(run_id[:15], STAMP))
    except (ValueError, IndexError):
        raise ValueError(f"{run_id!r} is not a run id (<stamp>-<label>-<pid>-<n>)") from None
    return pid, made


def maker_alive(run_id: str) -> bool:
    """Whether the process that made run ``run_id`` still runs: that pid, started by the
    stamp (psutil's start time may be a second off). The scale model's hosts are the
    machine's, not a state folder's: a lab with another state folder (a test's temporary
    one) must not take a live run's hosts for stale because it has no state file of it."""
    try:
        pid, made = maker_of(run_id)
        proc = psutil.Process(pid)
        return proc.create_time() <= made + 2 and proc.status() != psutil.STATUS_ZOMBIE
    except (ValueError, psutil.Error):
        return False


def reap_stale(verbose: bool = False) -> list[int]:
    """Kill leftovers of runs whose owner died, remove their state files; return the pids."""
    runs_state = paths.state_dir() / "runs"
    if runs_state.is_dir():
        for state_file in runs_state.glob("*.json"):
            try:
                token = json.loads(state_file.read_text())["owner"]
            except (OSError, ValueError, KeyError):
                token = ""
            if not _owner_alive(token):
                # what a killed run left in the state directory: nginx's prefix (its cache
                # may be large), its copies of the app, then the state file itself
                shutil.rmtree(paths.state_dir() / "nginx" / state_file.stem, ignore_errors=True)
                shutil.rmtree(paths.state_dir() / "runtime" / "apps" / state_file.stem,
                              ignore_errors=True)  # the app copies its app servers ran from
                state_file.unlink(missing_ok=True)
    stale = processes_of_dead_owners()
    killed = _terminate(stale) if stale else []
    # the scale model's hosts (control groups) of runs whose state file is gone
    from scalelab.plumbing import hosts

    hosts.remove_stale(lambda run_id: (runs_state / f"{run_id}.json").exists()
                       or maker_alive(run_id))
    if verbose:
        print(f"reaped {len(killed)} stale process(es)" + (f": {killed}" if killed else ""))
    return killed


def ours(include_other_live_owners: bool = True,
         include_orphans: bool = True) -> list[psutil.Process]:
    """Every live process that carries our marker.

    With ``include_other_live_owners=False``: only those this process owns and orphans (owner
    gone), not those of another live harness (a second test run, `scalelab up`); with
    ``include_orphans=False`` too, only those this process owns."""
    me = owner_token()
    return [proc for proc, token in _marked()
            if include_other_live_owners or token == me
            or (include_orphans and not _owner_alive(token))]


@dataclass
class Run:
    """One stack's life: its folder of logs and its state file."""

    id: str
    dir: Path
    state_file: Path

    @classmethod
    def create(cls, label: str = "stack") -> "Run":
        check_label(label)
        reap_stale()
        stamp = time.strftime(STAMP)
        base = paths.runs_dir()
        try:
            base.mkdir(parents=True, exist_ok=True)
            (base / f".write-test.{os.getpid()}").touch()
            (base / f".write-test.{os.getpid()}").unlink()
        except OSError as exc:
            raise PermissionError(f"the runs folder {base} cannot be written ({exc.strerror}); "
                                  "set SCALELAB_RUNS_DIR to a writable folder") from None
        _prune(base)
        n = 0
        while True:
            run_id = run_id_of(stamp, label, os.getpid(), n)
            run_dir = base / run_id
            try:
                run_dir.mkdir()
                break
            except FileExistsError:
                n += 1
        (run_dir / "logs").mkdir()
        state = paths.state_dir() / "runs"
        state.mkdir(parents=True, exist_ok=True)
        state_file = state / f"{run_id}.json"
        _write_json(state_file, {"owner": owner_token(), "run": run_id, "dir": str(run_dir),
                                 "started": time.time()})
        return cls(run_id, run_dir, state_file)

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    def env(self) -> dict[str, str]:
        return {OWNER_VAR: owner_token(), RUN_VAR: self.id}

    def close(self) -> None:
        self.state_file.unlink(missing_ok=True)


def kill_own_processes() -> None:
    """At exit: kill every process that carries exactly this process's owner token.

    Replaces mirakuru's exit hook, which matches its marker as a substring and so could hit
    another live harness's servers when its pid happens to appear in their marker."""
    try:
        me = owner_token()
    except OSError:
        return
    for proc, token in _marked():
        if token == me:
            try:
                proc.kill()
            except psutil.Error:
                pass


atexit.register(kill_own_processes)


def _prune(base: Path) -> None:
    """Keep the newest run folders; never remove one whose run is still live."""
    live = {p.stem for p in (paths.state_dir() / "runs").glob("*.json")}
    dirs = sorted((d for d in base.iterdir() if d.is_dir()), key=lambda d: d.name)
    for old in dirs[:-KEEP_RUN_DIRS]:
        if old.name not in live:
            shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, data: dict) -> None:
    paths.atomic_write_text(path, json.dumps(data, indent=2))
