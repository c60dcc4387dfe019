"""Process plumbing shared by servers and load generators: one long-lived thread that starts
every child (so the parent-death signal is tied to it), the command prefix that ties a child to
its owner (parent-death signal, unprivileged user, CPU set), and stopping a whole group."""

from __future__ import annotations

import contextlib
import os
import pwd
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Sequence


class ServiceError(RuntimeError):
    """A server or generator failed to start or stop, or could not be prepared (missing
    tool, no unprivileged user); where there is a log, the message ends with its tail."""


class _Launcher:
    """A long-lived thread that starts every server.

    Linux delivers the parent-death signal when the *thread* that forked the child exits, so
    servers must not be started from short-lived threads (thread pools, Jupyter comms).
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="scalelab-launcher", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            fn, done = self._jobs.get()
            try:
                done["result"] = fn()
            except BaseException as exc:  # handed back to the caller
                done["error"] = exc
            done["event"].set()

    def call(self, fn: Callable[[], Any]) -> Any:
        if threading.current_thread() is self._thread:
            return fn()
        done: dict[str, Any] = {"event": threading.Event()}
        self._jobs.put((fn, done))
        done["event"].wait()
        if "error" in done:
            raise done["error"]
        return done.get("result")


_launcher: _Launcher | None = None
_launcher_lock = threading.Lock()


def launcher() -> _Launcher:
    global _launcher
    with _launcher_lock:
        if _launcher is None:
            _launcher = _Launcher()
        return _launcher


def wrap_command(command: Sequence[str], cpus: Sequence[int] | None = None,
                 user: str | None = None, deathsig: str = "SIGKILL") -> list[str]:
    """Prefix a command with its parent-death signal, unprivileged user and CPU pinning."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise ServiceError("setpriv (util-linux) is required to tie servers to their owner; "
                           "install util-linux")
    wrapped = [setpriv, "--pdeathsig", deathsig]
    if user is not None:
        wrapped += [f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}", "--init-groups"]
    wrapped.append("--")
    if cpus:
        wrapped += ["taskset", "-c", ",".join(str(c) for c in cpus)]
    return wrapped + list(command)


def unprivileged_user() -> str | None:
    """Who runs servers that refuse root (PostgreSQL): None when we are not root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("SCALELAB_SERVICE_USER")
    candidates = [name] if name else ["postgres", "nobody"]
    for candidate in candidates:
        try:
            pwd.getpwnam(candidate)
            return candidate
        except KeyError:
            continue
    raise ServiceError(f"no unprivileged user to run servers as (tried {candidates}); set "
                       "SCALELAB_SERVICE_USER to an existing non-root user")


class SpawnRefused(RuntimeError):
    """Starting processes was refused for this process (``refuse_spawning``)."""


_REFUSAL: dict[str, str | None] = {"reason": None}


def refuse_spawning(reason: str | None) -> str | None:
    """Refuse every ``spawn`` from now on with ``reason`` (None: allow again). Reference mode,
    which starts and measures nothing, sets it. Returns the reason set before."""
    before, _REFUSAL["reason"] = _REFUSAL["reason"], reason
    return before


def check_spawning(what: str) -> None:
    """Raise ``SpawnRefused`` naming ``what`` if starting processes is refused."""
    if _REFUSAL["reason"] is not None:
        raise SpawnRefused(f"{_REFUSAL['reason']}, so {what} is refused")


def spawn(command: Sequence[str], log_path, env: dict | None = None, cwd=None
          ) -> subprocess.Popen:
    """Start ``command`` from the launcher thread, in a new session (its own process group),
    its output appended to ``log_path``, no stdin. Refused after ``refuse_spawning``."""
    check_spawning(f"starting {Path(str(command[0])).name}")
    with open(log_path, "a") as log:
        return launcher().call(lambda: subprocess.Popen(
            list(command), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True))


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the process group of ``proc`` (a session leader), SIGKILL after ``grace``
    seconds; returns when ``proc`` has been reaped."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)
