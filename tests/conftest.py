"""Shared fixtures. Results of the test run go to a temporary folder, never to data/results/;
after the whole session, no process started by the lab may still be running.

Tests are selected by marker (``make test-fast`` runs those with none of them): ``servers``
(real servers or load generators), ``notebooks`` (papermill), ``browser`` (chromium). A test
without the ``servers`` marker may not start a server or a generator: the lab refuses it
(``processes.refuse_spawning``), so a marker cannot be forgotten silently."""

import os
import tempfile
import time

import pytest

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


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALELAB_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"


@pytest.fixture(scope="session")
def reference_site(tmp_path_factory):
    """The exported site, built once for the session as `make export` builds it (every
    notebook executed in reference mode), with what the build did to this machine: processes
    of ours started, run folders made, files of the reference changed, local results written.
    The reference-mode tests and the browser tests of the site both read it."""
    from types import SimpleNamespace

    from scalelab.plumbing import paths, runs
    from scalelab.publishing import site

    local = tmp_path_factory.mktemp("reference-site-results")
    before_env = os.environ.get("SCALELAB_RESULTS_DIR")
    os.environ["SCALELAB_RESULTS_DIR"] = str(local)
    run_dirs = lambda: set(paths.runs_dir().glob("*")) if paths.runs_dir().exists() else set()
    reference = lambda: {p: p.stat().st_mtime for p in paths.reference_dir().rglob("*")}
    runs_before, reference_before = run_dirs(), reference()
    ours_before = {p.pid for p in runs.ours(include_other_live_owners=False)}
    cwd_before = os.getcwd()
    executed = {}
    try:
        index = site.build(progress=lambda msg: None,
                           on_executed=lambda res: executed.__setitem__(res["notebook"], res))
    finally:
        os.environ["SCALELAB_RESULTS_DIR"] = before_env or _RESULTS
    return SimpleNamespace(
        root=index.parent, executed=executed,
        new_run_dirs=run_dirs() - runs_before,
        started=[p for p in runs.ours(include_other_live_owners=False) if p.pid not in ours_before],
        reference_changed=reference() != reference_before,
        written_locally=[p for p in local.rglob("*")],
        moved_to=None if os.getcwd() == cwd_before else os.getcwd())
