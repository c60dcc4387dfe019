"""Every notebook follows the lab's shape and runs top to bottom in quick mode."""

import json
import re

import nbformat
import pytest

from scalelab import publish

NAMES = publish.available()
SECTIONS = ("## Overview", "## Prerequisites and time", "## Parameters", "## Caveats",
            "## Exercises", "## What's next")


def _nb(name):
    return nbformat.read(publish.resolve(name), as_version=4)


def test_there_are_notebooks():
    assert {"00-start-here", "01-baseline"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_shape(name):
    nb = _nb(name)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert nb.cells[0].source.startswith("# "), "a title first"
    for section in SECTIONS:
        assert section in text, f"{name} lacks {section}"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and 'MODE = "quick"' in params[0].source
    assert nb.metadata.kernelspec.name == publish.KERNEL
    if not name.startswith("00"):
        assert re.search(r"\bC\d{1,2}\b", nb.cells[0].source), "claim ids in the title cell"
        assert "## Verdict" in text and "## The rules, stated before the data" in text
        rules_at = next(i for i, c in enumerate(nb.cells) if "## The rules" in c.source)
        measuring = re.compile(r"\b(sweep|run|compare|measure)\(")
        first_run = next((i for i, c in enumerate(nb.cells)
                          if c.cell_type == "code" and measuring.search(c.source)), None)
        assert first_run is not None, "the notebook measures something"
        assert rules_at < first_run, "the rules come before the data"
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert f'show_rules("{name}")' in code or f"show_rules(NB)" in code, \
            "the rules are shown from the rule objects that decide them"
        assert "decide(" in code, "the verdicts come from the rule objects"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs"), "notebooks are committed without outputs"
            assert "subprocess" not in cell.source and "read_csv" not in cell.source, \
                "process management and parsing belong in the harness"


@pytest.mark.notebook
@pytest.mark.parametrize("name", NAMES)
def test_runs_in_quick_mode(name, tmp_path, results_dir):
    res = publish.execute(name, mode="quick", out_dir=tmp_path / "nb", html_dir=tmp_path / "html")
    nb = nbformat.read(res["executed"], as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert not errors, errors
    assert res["html"].stat().st_size > 10_000
    assert any(results_dir.glob(f"{name}/*.csv")), "the notebook saved its results"
    for meta in results_dir.glob(f"{name}/*.json"):
        assert json.loads(meta.read_text())["mode"] == "quick"
