"""The harness's floors, read from its own imports: which floor each package is, every import
between modules (also those inside functions), and the page ``docs/architecture.md`` drawn from
them (``scalelab architecture``). A test fails on an import upward or a circle."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]

# bottom to top: each floor imports only from the floors below it (and within itself)
FLOORS: dict[str, tuple[int, str]] = {
    "plumbing": (1, "paths, processes and the reaper, run folders, binaries, interpreters, "
                    "CPU sets: nothing here knows about notebooks or reference mode"),
    "servers": (2, "one module per server behind one contract, the stack and its "
                   "configuration, data sets"),
    "measurement": (3, "CPU sampling, a point's columns and what limited it, the profiler"),
    "results": (4, "the store of rows, the machine they were measured on, the reference run "
                   "as a source of rows"),
    "load": (5, "the load generators (Locust, wrk, the open load, clients while a server "
                "fails): each measured point is a row"),
    "verdicts": (6, "the arithmetic (queueing, USL, capacity, projections) and the rules, one "
                    "module per notebook"),
    "experiments": (7, "one module per notebook: what its cells call"),
    "plots": (7, "the standard charts, and each notebook's own figures"),
    "publishing": (8, "executing notebooks, reference mode, the site, the ledger, the notebook "
                      "helpers, the command line"),
}
TOP = 9  # scalelab/__init__.py (the notebook-facing names) and __main__.py


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module
    imported: str
    line: int


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))
            if "locustfiles" not in p.parts}


def floor_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__",):
        return TOP
    return FLOORS[parts[1]][0]


def imports() -> list[Import]:
    """Every import of one scalelab module by another, at module level or inside a function."""
    known = modules()
    out = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                           for a in node.names]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target.startswith("scalelab") and target != name:
                    out.append(Import(name, target, node.lineno))
    return out


def upward() -> list[Import]:
    """Imports from a higher floor (a package's ``__init__`` re-exporting its own modules is
    not one)."""
    return [i for i in imports() if floor_of(i.imported) > floor_of(i.importer)]


def circles() -> list[list[str]]:
    """Import circles between modules (each found once, as the modules on it)."""
    graph: dict[str, set[str]] = {}
    for i in imports():
        if not i.imported.startswith(i.importer + "."):  # a package and its own modules
            graph.setdefault(i.importer, set()).add(i.imported)
    found, seen = [], set()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index and v not in seen:
            connect(v)
    return found


def summary(module: str, path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    return first or "(no docstring)"


def page() -> str:
    """``docs/architecture.md``: the floors drawn, one line per module."""
    mods = modules()
    lines = ["# Architecture of the harness", "",
             "Generated by `.venv/bin/python -m scalelab architecture > docs/architecture.md` "
             "from the package's own imports and docstrings; a test fails when it is stale, when "
             "a module imports from a floor above its own, or when imports go round in a circle. "
             "How the lab measures is in [method.md](method.md), how its pieces work inside in "
             "[internals.md](internals.md).", "",
             "Floors, top to bottom: each imports only from the floors below it.", "", "```"]
    for pkg, (floor, role) in sorted(FLOORS.items(), key=lambda kv: (-kv[1][0], kv[0])):
        lines.append(f"{floor}  scalelab/{pkg + '/':<14} {role}")
    lines += ["```", ""]
    for pkg, (floor, _role) in sorted(FLOORS.items(), key=lambda kv: (kv[1][0], kv[0])):
        lines += [f"## {floor} · `scalelab/{pkg}/`", "", "| module | what it does |", "|---|---|"]
        for name, path in mods.items():
            if name == f"scalelab.{pkg}" or name.startswith(f"scalelab.{pkg}."):
                rel = path.relative_to(PACKAGE).as_posix()
                lines.append(f"| `{rel}` | {summary(name, path).replace('|', '/')} |")
        lines.append("")
    lines += ["## The top", "", "| module | what it does |", "|---|---|"]
    for name in ("scalelab", "scalelab.__main__"):
        rel = mods[name].relative_to(PACKAGE).as_posix()
        lines.append(f"| `{rel}` | {summary(name, mods[name]).replace('|', '/')} |")
    return "\n".join(lines) + "\n"
