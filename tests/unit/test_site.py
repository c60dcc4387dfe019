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

    anchors = set(re.findall(r'id="([^"]+)"', site._add_heading_ids(
        __import__("mistune").html((paths.PROJECT_ROOT / "docs" / "glossary.md").read_text()))))
    for name in execution.available():
        text = execution.resolve(name).read_text()
        for anchor in re.findall(r"glossary\.md#([\w-]+)", text):
            assert anchor in anchors, f"{name} links to a missing glossary term {anchor!r}"


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
