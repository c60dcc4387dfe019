"""Shared fixtures. Results of the test run go to a temporary folder, never to data/results/;
after the whole session, no process started by the lab may still be running."""

import os
import tempfile
import time

import pytest

_RESULTS = tempfile.mkdtemp(prefix="scalelab-test-results-")
os.environ["SCALELAB_RESULTS_DIR"] = _RESULTS
os.environ["SCALELAB_PROGRESS"] = "0"


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
