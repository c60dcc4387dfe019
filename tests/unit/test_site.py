"""The site's pieces that need no browser: links, hidden code, heading anchors, the ledger."""

import nbformat
import pytest

from scalelab.publishing import ledger, execution, site
from scalelab.plumbing import paths


def test_links_to_notebooks_and_docs_point_to_their_pages():
    html = ('<a href="01-baseline.ipynb">01</a> <a href="02-caching.ipynb#Verdicts">v</a> '
            '<a href="../docs/glossary.md#knee">knee</a> <a href="https://x.org/a.md">ext</a>')
    out = site._links(html)
    assert 'href="01-baseline.html"' in out and 'href="02-caching.html#Verdicts"' in out
    assert 'href="docs/glossary.html#knee"' in out and 'href="https://x.org/a.md"' in out


def test_headings_get_the_anchors_notebooks_link_to():
    out = site._add_heading_ids("<h2>Little's law</h2><h2>USL sigma and kappa</h2>")
    assert 'id="little-s-law"' in out and 'id="usl-sigma-and-kappa"' in out


def test_every_glossary_link_in_a_notebook_has_its_term():
    import re

    anchors = _glossary_anchors()
    for name in execution.available():
        text = execution.resolve(name).read_text()
        for anchor in re.findall(r"glossary\.md#([\w-]+)", text):
            assert anchor in anchors, f"{name} links to a missing glossary term {anchor!r}"


def _glossary_anchors() -> set[str]:
    import re

    return set(re.findall(r'id="([^"]+)"', site._add_heading_ids(
        __import__("mistune").html((paths.PROJECT_ROOT / "docs" / "glossary.md").read_text()))))


def _unlinked_first_uses(name: str, cells) -> list[str]:
    from glossary_terms import TERMS, first_use

    md = [c for c in cells if c.cell_type == "markdown"]
    return [f"{name}: {anchor} (markdown cell {i})" for anchor, pattern in TERMS.items()
            if (i := first_use(md, pattern)) is not None
            and f"glossary.md#{anchor}" not in md[i].source]


def test_each_notebook_links_a_glossary_term_where_it_first_uses_it():
    """In its markdown, outside headings and code: the first cell that says "server-bound"
    or "M/M/1" links it to its glossary entry, on the page and in JupyterLab alike."""
    from glossary_terms import TERMS

    assert set(TERMS) <= _glossary_anchors(), set(TERMS) - _glossary_anchors()
    unlinked = [miss for name in execution.available()
                for miss in _unlinked_first_uses(name, nbformat.read(
                    execution.resolve(name), as_version=4).cells)]
    assert not unlinked, unlinked


def test_an_unlinked_first_use_is_found_and_a_later_link_does_not_excuse_it():
    cell = nbformat.v4.new_markdown_cell
    linked = "The [knee](../docs/glossary.md#knee) of the curve."
    assert not _unlinked_first_uses("t", [cell("# The knee"), cell(linked), cell("a knee")])
    assert _unlinked_first_uses("t", [cell("Past the knee."), cell(linked)]) == \
        ["t: knee (markdown cell 0)"]
    assert _unlinked_first_uses("t", [cell("M/M/1 and [USL](other.md) and `the knee`")]) == \
        ["t: queue-models (markdown cell 0)"]


@pytest.mark.parametrize("source,prose", [
    ('show(f"{x} ms")', True), ("x = 1\nshow_rules(NB)", True),
    ("df = sweep(stack)\ndf", False), ("plots.bars(df)\nshow('x')", False), ("show", False),
    ("if a:\n    show('x')", True), ("if a:\n    show('x')\nelse:\n    df", False)])
def test_which_cells_only_write_prose(source, prose):
    assert site.writes_prose_only(source) is prose


@pytest.mark.parametrize("name", execution.available())
def test_prose_cells_show_their_output_not_their_code(name):
    nb = nbformat.read(execution.resolve(name), as_version=4)
    untagged = [c.source[:60] for c in nb.cells if c.cell_type == "code"
                and site.writes_prose_only(c.source)
                and "hide-input" not in c.metadata.get("tags", [])]
    assert not untagged, f"tag these cells 'hide-input': {untagged}"
    # in JupyterLab too, a student reads their prose and may open the code (one click)
    shown = [c.source[:60] for c in nb.cells if "hide-input" in c.metadata.get("tags", [])
             and not c.metadata.get("jupyter", {}).get("source_hidden")]
    assert not shown, f"collapse these cells' source ('jupyter': {{'source_hidden': true}}): {shown}"


def test_the_readme_ledger_is_the_one_the_reference_gives():
    readme = (paths.PROJECT_ROOT / "README.md").read_text()
    block = readme.split(ledger.START, 1)[1].split(ledger.END, 1)[0].strip()
    assert block == ledger.table().strip(), "run `make reference` or `scalelab ledger " \
        "--write-readme` after changing data/reference/"
    times = readme.split(ledger.TIMES_START, 1)[1].split(ledger.TIMES_END, 1)[0]
    assert times == ledger.times()


def test_a_solution_a_cell_computed_is_folded_and_left_out_of_the_student_edition():
    from scalelab.publishing import export
    from scalelab.publishing.notebook import solution

    def notebook():
        cell = nbformat.v4.new_code_cell("show(solution(...))")
        cell.outputs = [nbformat.v4.new_output(
            "display_data", data={"text/markdown": solution("D = 30 ms\n\nso **68 users**.", 2),
                                  "text/plain": "<IPython.core.display.Markdown object>"})]
        return nbformat.v4.new_notebook(cells=[cell])

    reading = export._prepare(notebook()).cells[0].outputs[0].data["text/markdown"]
    assert "<details><summary>Worked solution to 2</summary>" in reading
    assert "<strong>68 users</strong>" in reading and "\n\n" not in reading.strip()
    student = export._prepare(notebook(), edition="student").cells[0].outputs[0].data
    assert "68 users" not in student["text/markdown"]
    assert "Worked solution to 2: in the teacher's edition" in student["text/markdown"]
    with pytest.raises(ValueError, match="number must be"):
        solution("x", 0)
