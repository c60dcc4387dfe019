"""Every notebook follows the lab's shape, runs top to bottom in quick mode, and shows the
reference run in reference mode without starting anything."""

import json
import re

import nbformat
import pytest

from scalelab import results
from scalelab.publishing import execution, notebook

from saved_rows import CHECKS

NAMES = execution.available()
SECTIONS = ("## Learning objectives", "## Prerequisites and time", "## Parameters",
            "## Key takeaways", "## Exercises", "## References", "## What's next")
MEASURING = [n for n in NAMES if n[0].isdigit()]  # the primer simulates; it measures nothing
# a measured run is exported as HTML for one notebook (2 s or more each); the exported site,
# built in every session (``reference_site``), exports all of them with the same cells
EXPORTED_IN_QUICK_MODE = "01-baseline"


def _nb(name):
    return nbformat.read(execution.resolve(name), as_version=4)


def _section(nb, heading):
    """The markdown and the code of the cells from ``heading`` to the next section."""
    start = next(i for i, c in enumerate(nb.cells) if c.source.startswith(heading))
    end = next((i for i, c in enumerate(nb.cells) if i > start and c.cell_type == "markdown"
                and c.source.startswith("## ")), len(nb.cells))
    cells = nb.cells[start:end]
    return ("\n".join(c.source for c in cells if c.cell_type == "markdown"),
            "\n".join(c.source for c in cells if c.cell_type == "code"))


def test_there_are_notebooks():
    assert {"00-start-here", "01-baseline"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_shape(name):
    nb = _nb(name)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert nb.cells[0].source.startswith("# "), "a title first"
    # the exported page's title (nbconvert's <title>) is the heading's "NN · Name"
    heading = nb.cells[0].source.splitlines()[0][2:]
    assert heading.startswith(nb.metadata.get("title", "<no title>") + ":"), \
        f"{name}: metadata title {nb.metadata.get('title')!r} is not its heading's"
    for section in SECTIONS:
        assert section in text, f"{name} lacks {section}"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'MODE = "quick"' in params[0].source
    assert nb.metadata.kernelspec.name == execution.KERNEL
    assert "| concept |" in text, "prerequisites as a table: concepts and where they come from"
    exercises, code = _section(nb, "## Exercises")
    numbered = re.findall(r"^(\d+)\. ", exercises, flags=re.M)
    # written in markdown, or computed from the run by a code cell (``notebook.solution``)
    solved = re.findall(r"Worked solution(?: to (\d+))?", exercises) + \
        re.findall(r"\bsolution\(", code)
    assert "Predict, then run" in exercises, "at least one exercise to predict, then run"
    assert len(solved) >= len(numbered), f"{name}: every exercise has a worked solution"
    if name in MEASURING:
        assert "## Caveats" in text and "## Overview" in text
    if name in MEASURING and not name.startswith("00"):
        assert re.search(r"\bC\d{1,2}\b", nb.cells[0].source), "claim ids in the title cell"
        assert "## Verdict" in text and "## The rules, stated before the data" in text
        rules_at = next(i for i, c in enumerate(nb.cells) if "## The rules" in c.source)
        measuring = re.compile(r"\b(sweep|run|compare|measure)\(|on_point=saver\(")
        first_run = next((i for i, c in enumerate(nb.cells)
                          if c.cell_type == "code" and measuring.search(c.source)), None)
        assert first_run is not None, "the notebook measures something"
        assert rules_at < first_run, "the rules come before the data"
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert f'show_rules("{name}")' in code or "show_rules(NB)" in code, \
            "the rules are shown from the rule objects that decide them"
        assert "decide(" in code, "the verdicts come from the rule objects"
        assert nb.cells[1].source.startswith("from scalelab.publishing.notebook import answer") \
            and f'answer("{name}")' in nb.cells[1].source, \
            "under the title, the one-line answer that the verdict cell fills in"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, \
                "notebooks are committed without outputs (make setup's nbstripout filter)"
            assert "subprocess" not in cell.source and "read_csv" not in cell.source, \
                "process management and parsing belong in the harness"


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_keeps_the_notebook_as_it_is(name):
    """The executed copy the site shows (``data/reference/<notebook>/``) has every cell of the
    source, unchanged: a cell edited since ``make reference`` shows readers what the notebook
    no longer says."""
    assert execution.stale_reference(name) == "", \
        f"{name}: {execution.stale_reference(name)}; record it again (make reference)"


def test_the_reference_was_recorded_at_one_clean_commit():
    """``make reference`` records every notebook from one checkout with nothing uncommitted,
    so the reference names the code that measured it."""
    from scalelab.results import reference

    found = reference.commits()
    assert len(found) == 1, {commit: rows[:3] for commit, rows in found.items()}
    commit = next(iter(found))
    assert re.fullmatch(r"[0-9a-f]{40}", commit), f"recorded at {commit!r}, not a clean commit"


@pytest.mark.notebooks
@pytest.mark.servers
@pytest.mark.parametrize("name", NAMES)
def test_runs_in_quick_mode(name, tmp_path, results_dir, monkeypatch, run_in_jupyterlab):
    """Top to bottom on real servers, with quick mode's windows shortened for the suite
    (``notebook.SUITE``): every cell runs, every result is saved, and the saved rows show
    what the notebook's experiments must (``saved_rows.CHECKS``); one run is exported."""
    if name in run_in_jupyterlab:
        pytest.skip(f"{name} runs top to bottom in JupyterLab in this session, with the same "
                    "checks (tests/lab/test_jupyterlab.py)")
    monkeypatch.setenv(notebook.SUITE, "1")
    html_dir = tmp_path / "html" if name == EXPORTED_IN_QUICK_MODE else False
    res = execution.execute(name, mode="quick", out_dir=tmp_path / "nb", html_dir=html_dir)
    nb = nbformat.read(res["executed"], as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert not errors, errors
    if html_dir:
        assert res["html"].stat().st_size > 10_000
    if name in MEASURING:
        assert any(results_dir.glob(f"{name}/*.csv")), "the notebook saved its results"
    for meta in results_dir.glob(f"{name}/*.json"):
        if not meta.name.startswith("timing-"):
            assert json.loads(meta.read_text())["mode"] == "quick"
    if name in CHECKS:
        CHECKS[name](lambda result: results.load(name, result)[0])


@pytest.mark.notebooks
@pytest.mark.parametrize("name", NAMES)
def test_reference_mode_shows_the_reference_run_and_starts_nothing(name, reference_site):
    """What `make export` does (built once for the session, ``reference_site``): no server, no
    run folder, nothing written, and verdicts decided again from the recorded rows equal to the
    ones the reference run saved."""
    res = reference_site.executed[name]
    nb = nbformat.read(res["executed"], as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert not errors, errors
    assert res["seconds"] < 90
    assert not reference_site.new_run_dirs, "reference mode created a run folder"
    assert not reference_site.started, "reference mode started processes of ours"
    assert not reference_site.reference_changed, "reference mode wrote into the reference"
    assert not reference_site.written_locally, "reference mode wrote results locally"
    assert reference_site.moved_to is None, "building the site changed the test's folder"
    text = "\n".join(
        "".join(o.get("data", {}).get("text/markdown", "")) for c in nb.cells
        for o in c.get("outputs", []))
    if name in MEASURING and not name.startswith("00"):
        assert "the same verdicts the reference run saved" in text
        assert "Reference mode" in text
