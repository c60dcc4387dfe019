"""Results: atomic writes, metadata, an interrupted sweep keeps its finished points."""

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from scalelab.verdicts import claims
from scalelab.plumbing import paths
from scalelab import results


def test_save_and_load_with_metadata(results_dir):
    df = pd.DataFrame({"users": [1, 2], "req_s": [10.0, 19.5]})
    path = results.save(df, "01-baseline", "sweep", mode="quick", params={"users": [1, 2]})
    assert path == results_dir / "01-baseline" / "sweep.csv"
    back, meta = results.load("01-baseline", "sweep")
    pd.testing.assert_frame_equal(back, df)
    env = meta["environment"]
    for key in ("cores", "cpu_model", "python", "django", "postgresql", "redis", "nginx",
                "locust", "git_commit"):
        assert key in env
    assert meta["mode"] == "quick" and meta["params"] == {"users": [1, 2]}
    assert not list(path.parent.glob(".*.tmp"))  # nothing half-written left behind


def test_result_writer_saves_every_point_as_incomplete_until_finished(results_dir):
    w = results.ResultWriter("01-baseline", "sweep", mode="quick")
    w({"users": 1, "req_s": 5.0})
    with pytest.warns(UserWarning, match="01-baseline/sweep is incomplete"):
        df, meta = results.load("01-baseline", "sweep")
    assert len(df) == 1 and meta["incomplete"]
    w({"users": 2, "req_s": 9.0})
    results.finished(w)
    df, meta = results.load("01-baseline", "sweep")
    assert list(df["users"]) == [1, 2] and not meta["incomplete"]
    results.finished(print)  # anything else given as on_point is left alone


def test_a_verdict_is_flagged_when_its_results_are_not_from_one_complete_run(results_dir,
                                                                            monkeypatch):
    row = {"claim": "C13", "notebook": "01-baseline", "rule": "r", "number": "n",
           "points": "p", "verdict": "holds", "mode": "quick", "note": ""}
    results.save(pd.DataFrame([{"users": 1}]), "01-baseline", "sweep")
    results.save(pd.DataFrame([row]), "01-baseline", "verdicts")
    assert results.consistency("01-baseline") == ""
    monkeypatch.setattr(results.store, "session", lambda: "another-kernel")  # a restarted kernel
    w = results.ResultWriter("01-baseline", "sweep")
    w({"users": 1})  # interrupted after one point
    why = results.consistency("01-baseline")
    assert "sweep is incomplete" in why and "sweep comes from another run" in why


def test_load_missing_says_what_exists(results_dir):
    results.save(pd.DataFrame({"a": [1]}), "02-caching", "there")
    with pytest.raises(FileNotFoundError, match="available: \\['there'\\]"):
        results.load("02-caching", "missing")


def test_environment_yml_pip_part_agrees_with_pyproject():
    """environment.yml installs the project itself; its pip list must match pyproject."""
    import re

    env = (paths.PROJECT_ROOT / "environment.yml").read_text()
    pip_lines = re.findall(r"^\s+- (\S.*)$", env.split("- pip:", 1)[1], re.M)
    project = tomllib.loads((paths.PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    deps = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    listed = {l.strip().strip('"') for l in pip_lines if not l.strip().startswith("-e")}
    assert listed == deps, f"only in environment.yml: {listed - deps}; only in pyproject: {deps - listed}"
    assert any(l.strip().startswith("-e") for l in pip_lines), "the pip part installs the project"
    assert "python=3.11" in env and "conda-forge" in env and "nodefaults" in env


def test_claims_ledger_has_all_nineteen():
    ledger = claims.load()
    assert list(ledger.index) == [f"C{i}" for i in range(1, 20)]


def test_ledger_lists_every_notebook_that_decided_a_claim_in_the_reference(tmp_path,
                                                                             monkeypatch):
    """The ledger comes from data/reference/ only: a local run changes nothing in it."""
    from scalelab.publishing import ledger

    monkeypatch.setenv("SCALELAB_REFERENCE_DIR", str(tmp_path / "reference"))
    monkeypatch.setenv("SCALELAB_RESULTS_DIR", str(tmp_path / "reference"))  # to write it
    for nb, verdict in (("01-baseline", "holds"), ("03-worker-counts", "does not hold")):
        results.save(pd.DataFrame([{"claim": "C13", "notebook": nb, "rule": "*holds* if x | y",
                                    "number": "x 2×", "points": "2 point(s): a r0, b r0",
                                    "verdict": verdict, "mode": "full", "note": ""}]),
                     nb, "verdicts", mode="full")
    table = ledger.table()
    rows = [l for l in table.splitlines() if l.startswith("| C13")]
    assert len(rows) == 2 and "**holds** |" in rows[0]
    assert "does not hold" in rows[1]
    assert "x 2×" in rows[0] and "cores" in rows[0], "the deciding number, the machine"
    assert "x \\| y" in rows[0], "a | in a rule must not break the table"
    assert "| C1: " in table and "not yet tested" in table
    results.save(pd.DataFrame([{"claim": "C2", "notebook": "02-caching", "rule": "r",
                                "number": "x 10×", "points": "p", "verdict": "inconclusive",
                                "mode": "quick", "note": "x spans 8× to 12×. What would decide "
                                                          "it: more repeats"}]),
                 "02-caching", "verdicts", mode="quick")
    c2 = [l for l in ledger.table().splitlines() if l.startswith("| C2")][0]
    assert "**inconclusive** (quick mode): x spans 8× to 12×" in c2
    assert "What would decide it: more repeats" in c2
    before = ledger.table()
    monkeypatch.setenv("SCALELAB_RESULTS_DIR", str(tmp_path / "local"))
    results.save(pd.DataFrame([{"claim": "C13", "notebook": "01-baseline", "rule": "r",
                                "number": "n", "points": "p", "verdict": "does not hold",
                                "mode": "quick", "note": ""}]), "01-baseline", "verdicts")
    assert ledger.table() == before


def test_pruning_keeps_live_runs(tmp_path, monkeypatch):
    from scalelab.plumbing import runs

    monkeypatch.setenv("SCALELAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("SCALELAB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(runs, "KEEP_RUN_DIRS", 2)
    live = runs.Run.create("live")
    finished = [runs.Run.create("done") for _ in range(3)]
    for r in finished:
        r.close()
    runs.Run.create("new").close()
    left = {d.name for d in (tmp_path / "runs").iterdir()}
    assert live.id in left, "a live run's logs must never be pruned"
    assert finished[0].id not in left
    live.close()


KILLED_WRITER = """
import pandas as pd
from scalelab import results
w = results.ResultWriter("tests", "killed", mode="quick")
for i in range(100000):
    w.add({"i": i, "x": "y" * 200})
"""


def test_a_writer_killed_at_any_moment_never_leaves_a_mismatched_pair(results_dir):
    import os
    import random
    import subprocess
    import sys
    import time

    env = {**os.environ, "SCALELAB_RESULTS_DIR": str(results_dir)}
    rng = random.Random(7)
    for _ in range(25):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER], env=env)
        csv = results_dir / "tests" / "killed.csv"
        deadline = time.time() + 30
        while not csv.exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        proc.kill()
        proc.wait()
        df, meta = results.load("tests", "killed")
        assert meta["rows"] == len(df), meta
        assert list(df["i"]) == list(range(len(df))), "rows are whole and in order"
    results.save(pd.DataFrame({"i": [0]}), "tests", "killed")
    assert not list((results_dir / "tests").glob(".*.tmp")), "temporary files are cleaned up"


def test_a_full_disk_changes_nothing_and_leaves_no_temporary_file(results_dir, monkeypatch):
    import errno
    import os

    results.save(pd.DataFrame({"a": [1, 2]}), "tests", "full")
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        results.save(pd.DataFrame({"a": [1, 2, 3]}), "tests", "full")
    monkeypatch.setattr(os, "fsync", real_fsync)
    df, meta = results.load("tests", "full")
    assert len(df) == 2 and meta["rows"] == 2 and not meta.get("incomplete")
    assert not list((results_dir / "tests").glob(".*.tmp"))


def test_an_unwritable_results_folder_is_found_before_measuring(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SCALELAB_RESULTS_DIR", str(blocker / "results"))
    with pytest.raises(PermissionError, match="SCALELAB_RESULTS_DIR"):
        results.ResultWriter("01-baseline", "sweep")


def test_a_save_cut_between_its_two_files_is_read_as_the_newer_csv_flagged_incomplete(
        results_dir):
    path = results.save(pd.DataFrame({"a": [1, 2]}), "tests", "cut")
    path.write_text(pd.DataFrame({"a": [1, 2, 3]}).to_csv(index=False))  # the CSV got renamed
    df, meta = results.load("tests", "cut")
    assert len(df) == 3 and meta["rows"] == 3 and meta["incomplete"] is True


def test_quick_mode_also_quotes_full_modes_time_from_the_reference_run(tmp_path, monkeypatch):
    from scalelab.publishing import notebook

    monkeypatch.setenv("SCALELAB_REFERENCE_DIR", str(tmp_path))
    (tmp_path / "01-baseline").mkdir()
    (tmp_path / "01-baseline" / "timing-full.json").write_text('{"seconds": 578.2}')
    said = notebook.time_to_run("01-baseline", "quick")
    assert "Full mode took 9.6 minutes in the reference run" in said
    assert "Full mode" not in notebook.time_to_run("01-baseline", "full")


def test_run_times_are_quoted_from_recorded_runs_not_guessed(results_dir, tmp_path,
                                                               monkeypatch):
    from scalelab.publishing import ledger, notebook, execution

    monkeypatch.setenv("SCALELAB_REFERENCE_DIR", str(tmp_path / "reference"))
    assert "No run time measured yet" in notebook.time_to_run("01-baseline", "quick")
    execution.record_time("01-baseline", "quick", 81.4)
    assert "**81 s**" in notebook.time_to_run("01-baseline", "quick")
    assert "Full mode" not in notebook.time_to_run("01-baseline", "quick")
    assert "none recorded yet" in ledger.times(), "the README quotes the reference only"
    monkeypatch.setenv("SCALELAB_RESULTS_DIR", str(tmp_path / "reference"))
    for name in execution.available():
        execution.record_time(name, "quick", 60.0)
    assert ledger.times().endswith(f"quick mode {', '.join(n.split('-')[0] + ' 60 s' for n in execution.available())} "
                                   f"({len(execution.available()):.0f} minutes in all).")


def test_a_csv_cut_inside_a_quoted_field_is_named_not_a_parser_error(results_dir):
    results.save(pd.DataFrame({"note": ["a, b", "c"]}), "tests", "cut-quote")
    path = results_dir / "tests" / "cut-quote.csv"
    path.write_text('note\n"a, b\n')
    with pytest.raises(ValueError, match=r"result tests/cut-quote cannot be read: .* is not a "
                                         r"whole CSV"):
        results.load("tests", "cut-quote")


def test_a_folder_that_cannot_be_written_is_named_with_the_result(results_dir, monkeypatch):
    import errno

    from scalelab.results import store

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "_write_temp", full)
    with pytest.raises(OSError, match=r"result tests/full could not be saved .*No space left"):
        results.save(pd.DataFrame({"a": [1]}), "tests", "full")


def test_metadata_that_cannot_be_written_is_named_and_leaves_the_old_pair(results_dir,
                                                                          monkeypatch):
    """A read-only folder (faked: root writes anywhere) failing at the metadata, after the
    CSV's temporary file was written: the error names the result, nothing new is left."""
    import errno

    from scalelab.results import store

    results.save(pd.DataFrame({"a": [1]}), "tests", "ro")
    real, calls = store._write_temp, []

    def read_only_at_second(path, text):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.EROFS, "Read-only file system")
        return real(path, text)

    monkeypatch.setattr(store, "_write_temp", read_only_at_second)
    with pytest.raises(OSError, match=r"result tests/ro could not be saved .*Read-only"):
        results.save(pd.DataFrame({"a": [2]}), "tests", "ro")
    assert list(results.load("tests", "ro")[0]["a"]) == [1]
    assert not list((results_dir / "tests").glob(".*.tmp"))


def test_results_of_a_notebook_are_listed_by_its_name_never_a_path():
    with pytest.raises(ValueError, match="notebook must be letters"):
        results.list_results("../other")


def test_a_measurement_starting_removes_what_a_killed_save_left(results_dir):
    folder = results_dir / "tests"
    folder.mkdir(parents=True)
    dead = folder / ".other.csv.999999999.tmp"  # no process has this pid
    dead.write_text("half")
    mine = folder / f".mine.csv.{__import__('os').getpid()}.tmp"  # a live writer's: kept
    mine.write_text("writing")
    results.ResultWriter("tests", "sweep")
    assert not dead.exists() and mine.exists()


def test_the_commit_is_dirty_for_a_change_to_the_code_not_to_the_reference_being_recorded(
        tmp_path, monkeypatch):
    """`make reference` writes each notebook's reference before it runs the next: every
    notebook of one recording names the same clean commit, and a change to the code still
    shows."""
    import subprocess

    from scalelab.plumbing import paths
    from scalelab.results import machine

    (tmp_path / "data" / "reference").mkdir(parents=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "data" / "reference" / "rows.csv").write_text("a\n")

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.email=lab@127.0.0.1",
                        "-c", "user.name=lab", *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "a commit")
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path)
    monkeypatch.delenv("SCALELAB_REFERENCE_DIR", raising=False)
    assert not machine.git_commit().endswith("-dirty")
    (tmp_path / "data" / "reference" / "rows.csv").write_text("b\n")
    assert not machine.git_commit().endswith("-dirty"), "the reference is being recorded"
    (tmp_path / "code.py").write_text("x = 2\n")
    assert machine.git_commit().endswith("-dirty")


def test_the_reference_names_each_commit_it_was_measured_at(tmp_path, monkeypatch):
    """``reference.commits()``: what the suite's one-clean-commit check reads. Two notebooks
    recorded at different commits, or one from a dirty tree, show up as more than one commit;
    run times and unreadable files do not count."""
    from scalelab.results import reference

    monkeypatch.setenv("SCALELAB_REFERENCE_DIR", str(tmp_path))

    def recorded(notebook, name, commit):
        (tmp_path / notebook).mkdir(exist_ok=True)
        (tmp_path / notebook / f"{name}.json").write_text(
            json.dumps({"environment": {"git_commit": commit}}))

    clean, other = "a" * 40, "b" * 40
    recorded("01-baseline", "sweep", clean)
    recorded("01-baseline", "verdicts", clean)
    (tmp_path / "01-baseline" / "timing-full.json").write_text('{"seconds": 1}')
    assert reference.commits() == {clean: ["01-baseline/sweep", "01-baseline/verdicts"]}
    recorded("02-caching", "verdicts", other)
    recorded("03-worker-counts", "verdicts", clean + "-dirty")
    (tmp_path / "04-static-offloading").mkdir()
    (tmp_path / "04-static-offloading" / "cut.json").write_text("{")
    assert reference.commits() == {clean: ["01-baseline/sweep", "01-baseline/verdicts"],
                                   other: ["02-caching/verdicts"],
                                   clean + "-dirty": ["03-worker-counts/verdicts"],
                                   "unknown": ["04-static-offloading/cut"]}
