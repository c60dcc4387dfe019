"""The contract every server of the lab follows, on top of mirakuru's executors.

A service: ``start()`` (on a free loopback port, retried if the port is taken before the server
binds it), waits until ready (its own protocol, not just an open port) within a timeout that
reports the log tail, ``stop()`` stops the whole process group, ``log_path``, ``version``.
Each module in this package is one server behind this contract.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import atexit

import mirakuru.base
import psutil
from mirakuru import Executor
from mirakuru.exceptions import AlreadyRunning, ProcessExitedWithError, TimeoutExpired

from scalelab.plumbing import binaries
from scalelab.plumbing.processes import (ServiceError, check_spawning, database_user, launcher,
                                         lab_user, wrap_command)
from scalelab.plumbing.runs import Run

# mirakuru's exit hook kills every process whose marker *contains* our pid, which can hit
# another live harness's servers; ours (runs.kill_own_processes) matches exactly.
atexit.unregister(mirakuru.base.cleanup_subprocesses)

HOST = "127.0.0.1"
ACCOUNTS = ("database", "lab")
PORT_RETRIES = 3
PORT_CONFLICT_MARKERS = ("address already in use", "could not bind", "errno 98",
                         "could not create any tcp/ip sockets", "bind() to")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class _ReadyExecutor(Executor):
    """mirakuru executor whose readiness is the service's own check."""

    def __init__(self, command, port: int, ready: Callable[[], bool], **kwargs):
        super().__init__(command, **kwargs)
        self.port = port
        self._ready = ready

    def pre_start_check(self) -> bool:
        return port_open(self.port)

    def after_start_check(self) -> bool:
        try:
            return bool(self._ready())
        except Exception:
            return False

    def __del__(self) -> None:
        """mirakuru's finalizer looks for the server's children with psutil, which fails when
        the interpreter is exiting (``KeyError: 'psutil'``); the parent-death signal and
        runs.kill_own_processes end them anyway, so only the process group is killed here."""
        try:
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        except Exception:  # noqa: BLE001 - a finalizer must not raise
            pass


class Service:
    """Base class: subclasses give ``name``, ``component``, ``command()`` and ``is_ready()``."""

    name = "service"
    component = "app"  # app, db, cache, proxy
    binary: str | None = None  # the server binary it runs (binaries.py's name), if any
    ready_timeout = 30.0
    deathsig = "SIGKILL"
    stop_signal = signal.SIGTERM
    # whose account it runs under when the lab runs as root: "database" (PostgreSQL, owner of
    # the database files) or "lab" (the lab's own user, owning nothing; docs/internals.md)
    account = "lab"
    env_remove: tuple[str, ...] = ()  # variables the server must not see

    def __init__(self, run: Run, cpus: Sequence[int] | None = None, port: int | None = None,
                 log_name: str | None = None):
        self.run = run
        self.found = binaries.require(self.binary) if self.binary else None
        self.cpus = tuple(cpus) if cpus else ()
        self.port = port
        self._fixed_port = port is not None
        self.log_path: Path = run.logs / f"{log_name or self.name}.log"
        self._executor: _ReadyExecutor | None = None
        self._log_file = None
        self.started_at: float | None = None
        self.start_seconds: float | None = None
        self.host = None  # a plumbing.hosts.Host (the scale model) it starts in, if any

    # -- to override ----------------------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}

    def prepare(self) -> None:
        """Work before the first start (config files, data directories)."""

    @property
    def version(self) -> str:
        return self.found.version if self.found else "unknown"

    # -- the contract ---------------------------------------------------------------------
    @property
    def user(self) -> str | None:
        if self.account not in ACCOUNTS:
            raise ValueError(f"{type(self).__name__}.account must be one of {ACCOUNTS}, not "
                             f"{self.account!r}")
        return database_user() if self.account == "database" else lab_user()

    @property
    def pid(self) -> int | None:
        ex = self._executor
        return ex.process.pid if ex is not None and ex.process is not None else None

    @property
    def running(self) -> bool:
        return self._executor is not None and self._executor.running()

    def start(self) -> "Service":
        if self.running:
            return self
        check_spawning(f"starting {self.name}")
        self.prepare()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        for attempt in range(1, PORT_RETRIES + 1):
            if not self._fixed_port:
                self.port = free_port()
            try:
                launcher().call(self._start_once)
                break
            except _PortTaken:
                if self._fixed_port or attempt == PORT_RETRIES:
                    raise ServiceError(
                        f"{self.name}: port {self.port} on {HOST} is taken"
                        + ("" if self._fixed_port else f" ({PORT_RETRIES} ports tried)")
                        + self._tail_text()) from None
        self.started_at = time.time()
        self.start_seconds = time.perf_counter() - t0
        if self.host is not None:  # ready: from now on it runs on the host's quota
            self.host.adopt(self.pid)
        return self

    def _start_once(self) -> None:
        full_env = dict(os.environ)
        full_env.update(self.run.env())
        full_env.update(self.env())
        for name in self.env_remove:
            full_env.pop(name, None)
        self._log_file = open(self.log_path, "a", buffering=1)
        self._log_file.write(f"--- scalelab: starting {self.name} on {HOST}:{self.port} ---\n")
        command = wrap_command(self.command(), self.cpus, self.user, self.deathsig)
        self._executor = _ReadyExecutor(
            command, port=self.port, ready=self.is_ready, timeout=self.ready_timeout,
            sleep=0.05, stop_signal=self.stop_signal, envvars=full_env,
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            cwd=str(self.cwd()))
        try:
            self._executor.start()
        except AlreadyRunning:
            self._cleanup_failed()
            raise _PortTaken() from None
        except ProcessExitedWithError as exc:
            self._cleanup_failed()
            if not self._fixed_port and self._log_mentions_port_conflict():
                raise _PortTaken() from None
            raise ServiceError(f"{self.name} exited with code {exc.exit_code} while starting"
                               + self._tail_text()) from None
        except TimeoutExpired:
            self._cleanup_failed()
            raise ServiceError(f"{self.name} was not ready within {self.ready_timeout:.0f} s"
                               + self._tail_text()) from None

    def cwd(self) -> Path:
        return self.run.dir

    def _cleanup_failed(self) -> None:
        if self._executor is not None:
            try:
                self._executor.kill()
            except Exception:
                pass
        self._executor = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def _log_mentions_port_conflict(self) -> bool:
        text = self.log_tail(40).lower()
        return any(marker in text for marker in PORT_CONFLICT_MARKERS)

    def stop(self) -> None:
        """Stop the whole process group (SIGKILL after the timeout); safe to call twice."""
        self._end(graceful=True)

    def crash(self) -> None:
        """Kill the whole process group at once (SIGKILL): a server that dies, as opposed to
        one stopped. ``start()`` brings it back (on the same port if it was given one)."""
        self._end(graceful=False)

    def _end(self, graceful: bool) -> None:
        ex = self._executor
        if ex is None:
            return
        try:  # the whole tree, to wait for below: a killed child may take a moment to go
            tree = psutil.Process(self.pid).children(recursive=True) if self.pid else []
        except psutil.Error:
            tree = []
        try:
            if graceful:
                ex.stop()
            else:
                ex.kill()
        except Exception:  # a non-zero exit on stop is not worth a crash: make sure it is gone
            try:
                ex.kill()
            except Exception:
                pass
        finally:
            _wait_gone(tree, timeout=5.0)
            self._executor = None
            if self._log_file:
                self._log_file.close()
                self._log_file = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def _tail_text(self) -> str:
        tail = self.log_tail(20)
        return f"\n--- last lines of {self.log_path} ---\n{tail}" if tail else \
            f"\n(log {self.log_path} is empty)"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "component": self.component, "port": self.port,
                "pid": self.pid, "cpus": list(self.cpus), "version": self.version,
                "log": str(self.log_path), "user": self.user or os.environ.get("USER", ""),
                "start_seconds": self.start_seconds}

    def __repr__(self) -> str:
        state = f"{HOST}:{self.port}" if self.running else "stopped"
        return f"<{type(self).__name__} {self.name} {state}>"


def _wait_gone(procs: list, timeout: float) -> None:
    """Return when every process of ``procs`` has exited (a zombie counts as gone: it runs no
    more, whoever reaps it), or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while procs and time.monotonic() < deadline:
        alive = []
        for p in procs:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.Error:
                pass
        if not alive:
            return
        procs = alive
        time.sleep(0.02)


class _PortTaken(Exception):
    pass
