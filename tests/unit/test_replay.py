"""Reference mode: measuring calls return the recorded rows, nothing starts, nothing is written
into the reference."""

import json

import pandas as pd
import pytest

from scalelab import Stack, Workload, results, sweep
from scalelab.results.reference import ReferenceModeError
from scalelab.load import wrk
from scalelab.experiments import caching, workers
from scalelab.plumbing.paths import ReadOnlyError
from scalelab.plumbing.processes import SpawnRefused, spawn
from scalelab.publishing import reference_mode


@pytest.fixture
def reference(tmp_path, monkeypatch):
    ref = tmp_path / "reference"
    monkeypatch.setenv("SCALELAB_REFERENCE_DIR", str(ref))
    monkeypatch.setenv("SCALELAB_RESULTS_DIR", str(tmp_path / "local"))
    ref.mkdir()
    (ref / "machine.json").write_text(json.dumps({
        "mode": "full", "recorded": "2026-11-27T10:00:00+0000",
        "environment": {"cores": 2, "memcached": "1.6", "nginx": "missing"},
        "layout": {"server": [1], "generator": [0]}}))
    results.save(pd.DataFrame({"users": [1, 2], "req_s": [10.0, 19.0]}), "nb", "sweep")
    # saved before reference mode: written straight into the reference folder for the test
    (tmp_path / "local" / "nb").rename(ref / "nb")
    yield ref
    reference_mode.activate(False)


def test_a_measuring_call_returns_the_recorded_rows_and_starts_nothing(reference):
    reference_mode.activate(True)
    stack = Stack(workers=3, label="nb").start()
    assert stack.replayed and stack.layout.server == (1,) and stack.layout.generator == (0,)
    assert "reference mode" in repr(stack)
    df = sweep(stack, Workload("home"), users=[1, 2], on_point=results.ResultWriter("nb", "sweep"))
    assert list(df.req_s) == [10.0, 19.0]
    stack.stop()


def test_every_measuring_call_needs_a_named_writer(reference):
    reference_mode.activate(True)
    stack = Stack(label="nb").start()
    for call in (lambda: sweep(stack, Workload("home"), users=[1]),
                 lambda: wrk.compare(stack, {"a": "/"}),
                 lambda: workers.measure([]),
                 lambda: caching.stale_reads(stack)):
        with pytest.raises(ReferenceModeError, match="on_point"):
            call()


def test_nothing_is_started_or_written_into_the_reference(reference, tmp_path):
    reference_mode.activate(True)
    with pytest.raises(SpawnRefused, match="starts and measures nothing"):
        spawn(["true"], tmp_path / "log")
    with pytest.raises(ReadOnlyError, match="writes nothing"):
        results.save(pd.DataFrame({"a": [1]}), "nb", "other")
    assert not (reference / "nb" / "other.csv").exists()


def test_the_reference_machine_answers_for_servers_and_layout(reference):
    from scalelab.plumbing import binaries
    from scalelab.plumbing.cpus import default_layout
    from scalelab.publishing.doctor import report

    reference_mode.activate(True)
    assert binaries.available("memcached") and not binaries.available("nginx")
    assert default_layout().server == (1,)
    text, code = report()
    assert code == 0 and "Reference run" in text


def test_reference_mode_without_a_reference_says_how_to_record_one(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALELAB_REFERENCE_DIR", str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match="make reference"):
        reference_mode.activate(True)
    assert not reference_mode.active()


def test_local_results_go_elsewhere_than_the_reference(reference):
    from scalelab.plumbing import paths

    assert paths.results_dir() != paths.reference_dir()
    reference_mode.activate(True)
    assert paths.results_dir() == paths.reference_dir()


def test_reference_mode_off_gives_every_floor_back_what_it_had(reference, tmp_path):
    """Turning reference mode off restores what was set before it was turned on (a test's
    guard against starting servers, say), and off when it is off changes nothing."""
    from scalelab.plumbing import binaries, cpus, paths, processes
    from scalelab.plumbing.cpus import CpuLayout
    from scalelab.results import reference as ref
    from scalelab.servers import stack as stack_module

    def peek(setter, off, *, spread=False):
        """What ``setter`` holds now (each setter returns the value it replaces)."""
        held = setter(off)
        setter(*held) if spread else setter(held)
        return held

    def state():
        return (peek(processes.refuse_spawning, None),
                peek(paths.use_results_dir, None, spread=True),
                peek(cpus.use_layout, None), peek(stack_module.stand_in, None),
                peek(binaries.use_availability, None), peek(ref.show, False))

    guard, layout = "a guard set before", CpuLayout(server=(1,), generator=(0,))
    processes.refuse_spawning(guard)
    paths.use_results_dir(tmp_path / "elsewhere")
    cpus.use_layout(layout)
    try:
        before = state()
        reference_mode.activate(False)  # off while off: nothing changes
        assert state() == before
        reference_mode.activate(True)
        assert state() != before
        reference_mode.activate(False)
        assert state() == before and before[0] == guard
    finally:
        processes.refuse_spawning(None)
        paths.use_results_dir(None)
        cpus.use_layout(None)
