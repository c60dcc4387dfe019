"""Shared fixtures. Results of the test run go to a temporary folder (removed at the end),
never to data/results/; after the whole session, no process started by the lab may still be
running.

Tests are selected by marker (``make test-fast`` runs those with none of them): ``servers``
(real servers or load generators), ``notebooks`` (papermill), ``browser`` (chromium); ``unmeasured``
beside ``servers``: measures nothing, so runs beside the other tests, in a pytest of its own
(``beside.py``). A test without the
``servers`` marker may not start a server or a generator: the lab refuses it
(``processes.refuse_spawning``), so a marker cannot be forgotten silently."""

import os
import sys
import tempfile
import time

import pytest

import beside

# pytest keeps the test modules it rewrote (their asserts) in __pycache__ unless Python is told
# to write no bytecode (PYTHONDONTWRITEBYTECODE, as on this lab's machines): then each of the
# session's pytests rewrote every module it collected again
sys.dont_write_bytecode = False

_RESULTS = tempfile.mkdtemp(prefix="scalelab-test-results-")
os.environ["SCALELAB_RESULTS_DIR"] = _RESULTS
os.environ["SCALELAB_PROGRESS"] = "0"


NEEDS_PROCESSES = ("servers",)


def _refuse_unless_marked(item):
    from scalelab.plumbing import processes

    if not any(item.get_closest_marker(m) for m in NEEDS_PROCESSES):
        processes.refuse_spawning(f"{item.nodeid} has no 'servers' marker: a server-free test "
                                  "starts no server or load generator")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    _refuse_unless_marked(item)  # before fixtures too: a module's stack starts in setup
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    _refuse_unless_marked(item)  # again: a test may have switched reference mode off
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield
    from scalelab.plumbing import processes

    processes.refuse_spawning(None)


@pytest.fixture(scope="session", autouse=True)
def no_orphans_after_the_suite():
    """Every server and generator of ours must be gone when the suite ends."""
    from scalelab.plumbing import runs

    runs.reap_stale()
    yield
    deadline = time.time() + 10
    left = runs.ours(include_other_live_owners=False)
    while left and time.time() < deadline:
        time.sleep(0.5)
        left = runs.ours(include_other_live_owners=False)
    if left:
        names = [f"{p.pid} {p.name()}" for p in left]
        for p in left:
            p.kill()
        pytest.fail(f"processes of ours survived the test suite: {names}")
    from scalelab.plumbing import hosts

    groups = [str(f) for f in hosts.run_folders() if f"-{os.getpid()}-" in f.name]
    if groups:
        pytest.fail(f"control groups of the scale model survived the test suite: {groups}")


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALELAB_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"


# --- the exported site, the server-free and the unmeasured tests: beside each other -------
# Tests run in phases: server-free, those that read the site (reference mode and the site in
# a browser), those marked ``unmeasured`` (servers started and stopped, processes killed,
# JupyterLab in reference mode: behaviour, no rate or CPU judged), then servers, notebooks on
# servers, and JupyterLab on servers last. Nothing before the measuring phases measures, so
# in a session that holds more, they run side by side from the start: the site build (about
# 50 s of two kernels and two Chromiums) in a process of its own, the server-free tests and
# the unmeasured tests in pytests of their own (``beside.py``), and here the unmeasured
# tests in a browser (JupyterLab in reference mode) while the site builds, then the site's
# tests; the others' reports are shown after them. The first test that
# measures waits for all of it, so no measurement shares the CPUs.
_SITE = {}
MEASURED_FROM = 3  # the first phase whose tests measure


def _phase(item) -> int:
    marked = lambda name: item.get_closest_marker(name) is not None  # noqa: E731
    if marked("unmeasured"):  # in the session while it waits for the site build, if browser
        return 1 if marked("browser") else 2
    if marked("servers"):
        return 5 if marked("browser") else 4 if marked("notebooks") else 3
    return 1 if "reference_site" in item.fixturenames else 0


@pytest.fixture(autouse=True)
def _unmeasured_tests_measure_nothing(request, monkeypatch):
    """An ``unmeasured`` test runs beside other tests and the site build: a measurement there
    would wait for busy CPUs (and judge a disturbed window), so one that starts is an error."""
    if request.node.get_closest_marker("unmeasured") is None:
        return

    def refuse(*_a, **_k):
        raise AssertionError(f"{request.node.nodeid} is marked 'unmeasured' but measures: "
                             "it runs beside other tests; remove the marker")

    import scalelab.load
    from scalelab.load import api, locust, open_rate, pgbench, under_failure, wrk
    from scalelab.measurement import profiler

    for module in (wrk, open_rate, pgbench):  # each point waits for idle CPUs first
        monkeypatch.setattr(module, "wait_until_idle", refuse)
    # and what drives load without such a wait: Locust, clients under a failure, wrk at
    # full speed, the profiler; Locust under each name it is imported by
    for module, name in ((api, "run_locust"), (locust, "run_locust"),
                         (scalelab.load, "run_locust"), (under_failure, "run"), (wrk, "start"),
                         (profiler, "record")):
        monkeypatch.setattr(module, name, refuse)


def pytest_configure(config):
    beside.configure(config)  # in a pytest beside the session only: its reports recorded
    if _whole_suite(config):  # the site's tests are in it: the build starts as collection does
        _start_site_build()


def _whole_suite(config) -> bool:
    """The session runs every test (``make test``: no paths, markers or keywords given), so
    it holds the site's tests. Collection takes seconds on one core; the build that they read
    uses the other meanwhile."""
    opt = config.option
    return (config.args_source == pytest.Config.ArgsSource.TESTPATHS and not os.environ.get(
        beside.CHILD) and not (opt.markexpr or opt.keyword or opt.collectonly or opt.deselect
                               or getattr(opt, "lf", False)))  # no --lf without cacheprovider


UNMEASURED_PYTESTS = 2  # the unmeasured tests mostly wait for servers: two pytests overlap that


def _beside_groups(items) -> dict[str, list]:
    """What runs in pytests of its own: the server-free tests, and the unmeasured ones in
    ``UNMEASURED_PYTESTS`` groups (``beside.split_by_module``)."""
    unmeasured = beside.split_by_module([i for i in items if _phase(i) == 2], UNMEASURED_PYTESTS)
    return {"server-free": [i for i in items if _phase(i) == 0],
            **{f"unmeasured-{n}": group for n, group in enumerate(unmeasured, start=1)}}


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_phase)  # stable: within a phase, the files' own order
    groups = _beside_groups(items)
    if beside.offloads(items, groups):  # the site's tests first: the others' run meanwhile
        items.sort(key=lambda item: 0 if _phase(item) == 1 else 1)


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return  # nothing runs: no build, no pytest beside it
    if "proc" not in _SITE and any("reference_site" in item.fixturenames
                                   for item in session.items):
        _start_site_build()
    groups = _beside_groups(session.items)
    if beside.offloads(session.items, groups):
        beside.start(session, groups)


def _start_site_build() -> None:
    import subprocess
    import sys
    from pathlib import Path

    work = Path(tempfile.mkdtemp(prefix="scalelab-test-site-"))
    env = {**os.environ, "SCALELAB_RESULTS_DIR": str(work / "results"),
           "SCALELAB_RUNS_DIR": str(work / "runs")}
    log = open(work / "build.log", "w")
    from scalelab.plumbing.processes import wrap_command

    # dies with the suite (its parent-death signal), like every process of the lab
    command = wrap_command([sys.executable, str(Path(__file__).with_name("site_build.py")),
                            str(work / "site.json")], deathsig="SIGTERM")
    _SITE.update(work=work, log=work / "build.log", started=time.time(),
                 proc=subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=env))
    log.close()


def _site_built(timeout: float = 900):
    """The build's report once it has ended; fails with its log's tail if it failed."""
    import json
    import subprocess

    proc = _SITE.get("proc")
    if proc is None:
        return None
    try:
        code = proc.wait(timeout=max(1.0, timeout - (time.time() - _SITE["started"])))
    except subprocess.TimeoutExpired:
        proc.kill()
        code = "killed"
    report = _SITE["work"] / "site.json"
    if code != 0 or not report.exists():
        tail = "".join(_SITE["log"].read_text().splitlines(keepends=True)[-30:])
        pytest.fail(f"building the site failed (exit {code}); the end of {_SITE['log']}:\n{tail}")
    return json.loads(report.read_text())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    run = beside.runs_beside(item)
    if run is not None:
        run.replay(item)
        return True
    if _phase(item) >= MEASURED_FROM:
        if _SITE.get("proc") is not None and _SITE["proc"].poll() is None:
            _SITE["proc"].wait()  # _site_built() reports a failure to the tests that read it
        beside.wait()
    return None


def pytest_sessionfinish(session, exitstatus):
    import shutil

    beside.stop()

    proc = _SITE.get("proc")
    if proc is not None and proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)
    if "work" in _SITE:
        shutil.rmtree(_SITE["work"], ignore_errors=True)
    shutil.rmtree(_RESULTS, ignore_errors=True)  # the session's results: nothing of ours stays


# The JupyterLab tests run 00 and 02 top to bottom in quick mode, as a student does; when they
# run in this session, the papermill runs of those notebooks would only repeat them.
_JUPYTERLAB_TESTS = {"00-start-here": "tests/lab/test_jupyterlab.py::test_a_student_runs_00",
                     "02-caching": "tests/lab/test_jupyterlab.py::test_a_student_runs_02"}


@pytest.fixture(scope="session")
def run_in_jupyterlab(request) -> set[str]:
    """The notebooks the JupyterLab tests run top to bottom in this session: each one whose
    test is selected, where a chromium is there to drive it."""
    import sys
    from pathlib import Path

    selected = {name for name, test in _JUPYTERLAB_TESTS.items()
                if any(item.nodeid.startswith(test) for item in request.session.items)}
    if not selected:
        return set()
    sys.path.insert(0, str(Path(__file__).with_name("lab")))
    from lab_driver import chromium

    return selected if chromium() else set()


@pytest.fixture(scope="session")
def reference_site():
    """The exported site, built once for the session as `make export` builds it (every
    notebook executed in reference mode; ``site_build.py``), with what the build did to this
    machine: processes of ours started, run folders made, files of the reference changed,
    local results written. The reference-mode tests and the browser tests of the site both
    read it."""
    from pathlib import Path
    from types import SimpleNamespace

    built = _site_built()
    if built is None:
        pytest.fail("the site build was not started at collection (conftest.py)")
    executed = {name: {**res, "executed": Path(res["executed"])}
                for name, res in built["executed"].items()}
    return SimpleNamespace(
        root=Path(built["root"]), executed=executed,
        new_run_dirs=built["new_run_dirs"], started=built["started"],
        reference_changed=built["reference_changed"],
        written_locally=built["written_locally"], moved_to=built["moved_to"])
