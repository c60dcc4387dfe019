"""The ``unmeasured`` tests in a pytest of their own, beside the rest of the session.

They start servers but judge no rate or CPU, and mostly wait (for a server to start, a
process to die): run one after the other they left a core idle for a minute and a half
while the server-free tests, the site build and the site's browser tests waited their turn.
When a session holds them and other tests, :func:`start` runs them in a second pytest
(``python -m pytest NODEID ...``) as the session begins; the session runs its server-free and
site tests meanwhile and, at each unmeasured test's place, shows the report the other pytest
wrote (:func:`replay`), so a failure reads as if it had happened here. No test that measures
starts before that pytest has ended (:func:`wait`).

The other pytest is one of ours: it dies with the session (its parent-death signal), its
servers die with it, and it checks at its end that none of its own survived."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

CHILD = "SCALELAB_TESTS_BESIDE"  # set in the other pytest: it runs what it was given, in line
_RUN: dict = {}


def start(session, ids: list[str]) -> None:
    """Run the tests ``ids`` in a pytest of their own, unless this is that pytest or they are
    all the session has."""
    if not ids or os.environ.get(CHILD) or len(ids) == len(session.items):
        return
    from scalelab.plumbing.processes import wrap_command

    work = Path(tempfile.mkdtemp(prefix="scalelab-test-beside-"))
    (work / "tests.txt").write_text("".join(f"{nodeid}\n" for nodeid in ids))
    env = {**os.environ, CHILD: str(work / "reports.jsonl")}
    log = open(work / "pytest.log", "w")
    command = wrap_command([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                            f"@{work / 'tests.txt'}"], deathsig="SIGTERM")
    _RUN.update(work=work, ids=set(ids), replayed=set(), seen={}, offset=0,
                config=session.config, proc=subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env,
                                      cwd=session.config.rootpath))
    log.close()


def runs_beside(item) -> bool:
    return item.nodeid in _RUN.get("ids", ())


def record(config, report) -> None:
    """In the other pytest: append one report, as pytest serialises it for its plugins."""
    path = os.environ.get(CHILD)
    if not path:
        return
    data = config.hook.pytest_report_to_serializable(config=config, report=report)
    with open(path, "a") as out:
        out.write(json.dumps(data) + "\n")


def _read() -> None:
    path = _RUN["work"] / "reports.jsonl"
    if not path.exists():
        return
    with open(path) as f:
        f.seek(_RUN["offset"])
        for line in iter(f.readline, ""):
            if not line.endswith("\n"):  # half written: read it again next time
                break
            _RUN["offset"] += len(line.encode())
            data = json.loads(line)
            if isinstance(data.get("longrepr"), list):  # a skip's (path, line, reason)
                data["longrepr"] = tuple(data["longrepr"])
            _RUN["seen"].setdefault(data["nodeid"], []).append(data)


def _done(nodeid: str) -> bool:
    return any(d["when"] == "teardown" for d in _RUN["seen"].get(nodeid, []))


def replay(item, timeout: float = 900) -> None:
    """Show ``item``'s reports from the other pytest once it has finished there; if that
    pytest ended without finishing it, a failure with the end of its log."""
    config = _RUN["config"]
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    deadline = time.monotonic() + timeout
    while True:
        _read()
        if _done(item.nodeid) or _RUN["proc"].poll() is not None or time.monotonic() > deadline:
            _read()
            break
        time.sleep(0.2)
    reports = [config.hook.pytest_report_from_serializable(config=config, data=d)
               for d in _RUN["seen"].get(item.nodeid, [])]
    if not _done(item.nodeid):
        reports.append(pytest.TestReport(
            item.nodeid, item.location, {}, "failed",
            f"the unmeasured tests' own pytest ended (exit {_RUN['proc'].poll()}) or took "
            f"over {timeout:g} s without finishing this test; the end of its log "
            f"({_RUN['work'] / 'pytest.log'}):\n{_tail()}", "call"))
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    _RUN["replayed"].add(item.nodeid)


def _tail(lines: int = 40) -> str:
    text = (_RUN["work"] / "pytest.log").read_text(errors="replace")
    return "".join(text.splitlines(keepends=True)[-lines:])


def wait(timeout: float = 900) -> None:
    """Until the other pytest has ended (a measurement must not share the CPUs with it)."""
    proc = _RUN.get("proc")
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop() -> None:
    """At the session's end: the other pytest ends too (it has reported its last test, and
    checks for survivors as it ends)."""
    import shutil

    proc = _RUN.get("proc")
    if proc is not None:
        try:  # a session stopped early (-x, Ctrl-C) stops it at once
            proc.wait(timeout=60 if _RUN["replayed"] >= _RUN["ids"] else 0)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=30)
    if "work" in _RUN:  # kept, with its log, if a test had no report (its failure names it)
        _read()
        if all(_done(nodeid) for nodeid in _RUN["ids"]):
            shutil.rmtree(_RUN["work"], ignore_errors=True)
