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
import sys
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


def database_user() -> str | None:
    """Who owns the database files and runs PostgreSQL (which refuses root): None when we are
    not root."""
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
    raise ServiceError(f"no unprivileged user to run PostgreSQL as (tried {candidates}); set "
                       "SCALELAB_SERVICE_USER to an existing non-root user")


LAB_USER = "scalelab"


def lab_user() -> str | None:
    """Who runs the other servers (Redis, memcached, nginx, PgBouncer): a system user of the
    lab's own that owns nothing (no home, no shell), made on first use; ``SCALELAB_LAB_USER``
    names another. None when we are not root: the servers then run as whoever runs the lab."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("SCALELAB_LAB_USER") or LAB_USER
    try:
        pwd.getpwnam(name)
        return name
    except KeyError:
        if name != LAB_USER:
            raise ServiceError(f"SCALELAB_LAB_USER={name!r} names no user of this machine; "
                               "unset it and the lab makes its own user "
                               f"{LAB_USER!r}") from None
    done = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                           "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                           "--comment", "scalelab servers", name],
                          capture_output=True, text=True, timeout=60)
    try:
        pwd.getpwnam(name)  # made now, or by another harness at the same moment
        return name
    except KeyError:
        raise ServiceError(f"could not make the lab's user {name!r} with useradd (exit "
                           f"{done.returncode}: {done.stderr.strip()}); make it yourself "
                           "(useradd --system --no-create-home --shell /usr/sbin/nologin "
                           f"{name}) or set SCALELAB_LAB_USER to an unprivileged user") from None


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


def run_to_end(proc: subprocess.Popen, log: Path, timeout: float, what: str) -> str:
    """Wait for a load generator that ends by itself (``proc``, writing to ``log``); return
    its report. Stopped, with its group, if it outlasts ``timeout`` seconds (an error naming
    ``what`` and its log) or on Ctrl-C: no load is left running behind a failed cell."""
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        raise RuntimeError(f"{what} did not finish within {timeout:.0f} s; see {log}")
    except KeyboardInterrupt:
        stop_group(proc)
        raise
    report = log.read_text()
    if code != 0:
        raise RuntimeError(f"{what} exited with code {code}:\n{report[-1500:]}")
    return report


@contextlib.contextmanager
def interrupts_deferred(doing: str):
    """Let ``doing`` (stopping servers) finish when Ctrl-C comes again: a SIGINT in the block
    is noted and raised as KeyboardInterrupt when the block ends. Each step of the block has
    a timeout of its own, so it ends soon. Outside the main thread, or with SIGINT not at
    Python's default handler, nothing changes."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    caught = []

    def note(signum, frame):
        if not caught:
            print(f"\nscalelab: {doing} first; it takes a few seconds", flush=True)
        caught.append(signum)

    signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
        raise KeyboardInterrupt  # unless the block runs because of an earlier Ctrl-C

