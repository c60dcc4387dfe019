"""Tests that measure nothing, in pytests of their own beside the session.

Before the first test that measures, a session has three things to do that judge no rate or
CPU: the server-free tests (CPU-bound), the ``unmeasured`` tests (servers started and killed:
mostly waiting), and the site's tests (which wait for the site build, then drive Chromium).
One after the other they took two and a half minutes, with a core often idle. When a session
holds more than one kind, :func:`start` runs the server-free tests in a pytest of their own
and the unmeasured ones in two more, split by module (:func:`split_by_module`), each
``python -m pytest NODEID ...``, as the session begins; the session runs
the site's tests meanwhile and then, at each of the others' places, shows the report their
pytest wrote (:func:`replay`), so a failure reads as if it had happened here. No test that
measures starts before those pytests have ended (:func:`wait`).

Each is one of ours: it dies with the session (its parent-death signal), its servers die with
it, and it checks at its end that none of its own survived."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

CHILD = "SCALELAB_TESTS_BESIDE"  # set in such a pytest: it runs what it was given, in line


class Beside:
    """One pytest of the session's own, running ``ids``, and the reports it has written."""

    def __init__(self, session, name: str, ids: list[str]) -> None:
        from scalelab.plumbing.processes import wrap_command

        self.config, self.ids, self.replayed, self.seen, self.offset = \
            session.config, set(ids), set(), {}, 0
        self.work = Path(tempfile.mkdtemp(prefix=f"scalelab-test-{name}-"))
        (self.work / "tests.txt").write_text("".join(f"{nodeid}\n" for nodeid in ids))
        env = {**os.environ, CHILD: str(self.work / "reports.jsonl")}
        command = wrap_command([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                                f"@{self.work / 'tests.txt'}"], deathsig="SIGTERM")
        with open(self.work / "pytest.log", "w") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         cwd=session.config.rootpath)

    def _read(self) -> None:
        path = self.work / "reports.jsonl"
        if not path.exists():
            return
        with open(path) as f:
            f.seek(self.offset)
            for line in iter(f.readline, ""):
                if not line.endswith("\n"):  # half written: read it again next time
                    break
                self.offset += len(line.encode())
                data = json.loads(line)
                if isinstance(data.get("longrepr"), list):  # a skip's (path, line, reason)
                    data["longrepr"] = tuple(data["longrepr"])
                self.seen.setdefault(data["nodeid"], []).append(data)

    def done(self, nodeid: str) -> bool:
        return any(d["when"] == "teardown" for d in self.seen.get(nodeid, []))

    def replay(self, item, timeout: float = 900) -> None:
        """Show ``item``'s reports once its test has finished there; if that pytest ended
        without finishing it, a failure with the end of its log."""
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        deadline = time.monotonic() + timeout
        while True:
            self._read()
            if self.done(item.nodeid) or self.proc.poll() is not None \
                    or time.monotonic() > deadline:
                self._read()
                break
            time.sleep(0.2)
        reports = [self.config.hook.pytest_report_from_serializable(config=self.config, data=d)
                   for d in self.seen.get(item.nodeid, [])]
        if not self.done(item.nodeid):
            reports.append(pytest.TestReport(
                item.nodeid, item.location, {}, "failed",
                f"the pytest running it beside the session ended (exit {self.proc.poll()}) "
                f"or took over {timeout:g} s without finishing this test; the end of its log "
                f"({self.work / 'pytest.log'}):\n{self._tail()}", "call"))
        for report in reports:
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        self.replayed.add(item.nodeid)

    def _tail(self, lines: int = 40) -> str:
        text = (self.work / "pytest.log").read_text(errors="replace")
        return "".join(text.splitlines(keepends=True)[-lines:])

    def wait(self, timeout: float = 900) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        """It ends too (it has reported its last test, and checks for survivors as it ends);
        a session stopped early (-x, Ctrl-C) stops it at once. Its folder is kept, with its
        log, if a test had no report (the failure names it)."""
        try:
            self.proc.wait(timeout=60 if self.replayed >= self.ids else 0)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self._read()
        if all(self.done(nodeid) for nodeid in self.ids):
            shutil.rmtree(self.work, ignore_errors=True)


_RUNS: list[Beside] = []


def offloads(items, groups: dict[str, list]) -> bool:
    """Whether ``groups`` (name -> items) go to pytests of their own: in the session's own
    pytest, when the session holds something besides them."""
    offloaded = sum(len(group) for group in groups.values())
    return not os.environ.get(CHILD) and offloaded > 0 and offloaded < len(items)


def split_by_module(items: list, n: int) -> list[list]:
    """``items`` in ``n`` groups of about as many tests each, a module's tests together (its
    fixtures start once), the largest module first; each group in the items' order."""
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    groups: list[list] = [[] for _ in range(n)]
    for module in sorted(modules.values(), key=len, reverse=True):
        min(groups, key=len).extend(module)
    order = {item.nodeid: i for i, item in enumerate(items)}
    return [sorted(group, key=lambda item: order[item.nodeid]) for group in groups]


def start(session, groups: dict[str, list]) -> None:
    """A pytest of its own for each non-empty group (name -> items)."""
    _RUNS.extend(Beside(session, name, [item.nodeid for item in group])
                 for name, group in groups.items() if group)


def runs_beside(item) -> Beside | None:
    return next((run for run in _RUNS if item.nodeid in run.ids), None)


class _Recorder:
    """In such a pytest: every report appended to the session's file, as pytest serialises
    reports for its plugins."""

    def __init__(self, config, path: str) -> None:
        self.config, self.path = config, path

    def pytest_runtest_logreport(self, report) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config,
                                                              report=report)
        with open(self.path, "a") as out:
            out.write(json.dumps(data) + "\n")


def configure(config) -> None:
    """In a pytest started by :func:`start`, record its reports for the session."""
    path = os.environ.get(CHILD)
    if path:
        config.pluginmanager.register(_Recorder(config, path), "scalelab-beside-recorder")


def wait() -> None:
    """Until every such pytest has ended (a measurement must not share the CPUs with one)."""
    for run in _RUNS:
        run.wait()


def stop() -> None:
    for run in _RUNS:
        run.stop()
