"""The harness's shape, read from its own imports: floors that import only from below, no
import circle, no long function, and docs/architecture.md generated from the code."""

import ast
from pathlib import Path

from scalelab.publishing import architecture

LONGEST = 60  # lines: a function this long does more than one thing


def test_every_package_of_the_harness_is_a_floor():
    packages = {p.name for p in architecture.PACKAGE.iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in architecture.PACKAGE.glob("*.py")}
    assert packages == set(architecture.FLOORS), "a package without a floor, or a floor without one"
    assert modules == {"__init__", "__main__"}, "modules sit in a floor, not at the top"


def test_no_module_imports_from_a_floor_above_its_own():
    up = [f"{i.importer} (line {i.line}) imports {i.imported}" for i in architecture.upward()]
    assert not up, "imports upward:\n" + "\n".join(up)


def test_no_import_circle():
    assert architecture.circles() == []


def test_the_checks_see_an_upward_import_and_a_circle(monkeypatch):
    """The two checks above can fail: an import from experiments into plumbing, and a pair of
    modules importing each other, are both found."""
    real = architecture.imports()
    fake = real + [architecture.Import("scalelab.plumbing.paths", "scalelab.experiments.caching", 1),
                   architecture.Import("scalelab.servers.base", "scalelab.servers.stack", 1)]
    monkeypatch.setattr(architecture, "imports", lambda: fake)
    assert [i.importer for i in architecture.upward()] == ["scalelab.plumbing.paths"]
    assert any({"scalelab.servers.base", "scalelab.servers.stack"} <= set(c)
               for c in architecture.circles())


def test_no_function_of_60_lines_or_more():
    long = []
    for path in architecture.PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines >= LONGEST:
                    long.append(f"{path.relative_to(architecture.PACKAGE)}:{node.lineno} "
                                f"{node.name} ({lines} lines)")
    assert not long, long


def test_every_module_says_its_job_in_a_docstring():
    missing = [name for name, path in architecture.modules().items()
               if not ast.get_docstring(ast.parse(path.read_text()))]
    assert not missing, missing


def test_the_architecture_page_is_generated_from_the_code():
    page = Path(__file__).parents[2] / "docs" / "architecture.md"
    assert page.read_text() == architecture.page(), \
        "docs/architecture.md is stale: .venv/bin/python -m scalelab architecture > docs/architecture.md"
