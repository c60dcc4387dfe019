"""The exported site (``make export``): every notebook as an HTML essay and as reveal.js slides,
the docs, and an index, under ``build/site/``, readable with no network and no server.

The notebooks are executed in reference mode first (``scalelab.results.reference``: seconds, no server),
so the site shows the committed reference run through the committed notebooks. In the HTML,
cells tagged ``hide-input`` (prose computed from the data, set-up) show their output only,
the ``parameters`` cell and papermill's injected one are left out, links to ``.ipynb`` and
``.md`` files point to their HTML pages, and MathJax and reveal.js come from ``vendor/``.
Exporting one notebook is ``export``'s; the index and the docs' pages are Jinja2 templates in
``site_templates/`` (``site_*.html.j2``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from scalelab.plumbing import paths
from scalelab.publishing.catalogue import available, resolve
from scalelab.publishing.export import (export_notebook, nav_html, page_links,  # noqa: F401
                                        render, vendor)

SITE_DIR = paths.PROJECT_ROOT / "build" / "site"
# the student edition: the same pages without the worked solutions (the site, which is also
# the teacher's edition, keeps them folded until opened)
STUDENT_DIR = paths.PROJECT_ROOT / "build" / "site-student"
DOCS_DIR = paths.PROJECT_ROOT / "docs"
TITLE = "Does Django scale? A lab in notebooks"
_links = page_links  # the name the tests know


def export_doc(md: Path, out: Path) -> Path:
    """A Markdown document of ``docs/`` as a page of the site (same look as the index)."""
    import mistune

    body = _add_heading_ids(page_links(mistune.html(md.read_text()), in_docs=True))
    title = md.stem.replace("-", " ").capitalize()
    paths.atomic_write_text(out, _page(title, body, prefix="../"))
    return out


def _add_heading_ids(body: str) -> str:
    """``<h2>Knee</h2>`` -> ``<h2 id="knee">``, so notebooks can link to a term."""
    def repl(m):
        slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"<[^>]+>", "", m.group(2)).lower()).strip("-")
        return f'<h{m.group(1)} id="{slug}">{m.group(2)}</h{m.group(1)}>'
    return re.sub(r"<h([1-4])>(.*?)</h\1>", repl, body)


def _page(title: str, body: str, prefix: str = "") -> str:
    """A page of the site that is not a notebook, around ``body`` (HTML): ``site_page.html.j2``;
    ``prefix`` leads the navigation's links (``../`` on a page of ``docs/``)."""
    return render("site_page.html.j2", title=title, body=body, nav=nav_html(prefix=prefix))


def notebook_summary(name: str) -> dict:
    """What the index says of a notebook: its title, question, claim ids, run times and
    verdicts (from the reference run)."""
    import nbformat
    import pandas as pd

    from scalelab.publishing.execution import measured_time
    from scalelab.verdicts.rules import RULES

    nb = nbformat.read(resolve(name), as_version=4)
    first = nb.cells[0].source if nb.cells else ""
    title = next((line.lstrip("# ").strip() for line in first.splitlines()
                  if line.startswith("# ")), name)
    quote = next((line for line in first.splitlines() if line.startswith(">")), "")
    m = re.search(r'"(.+?)"', quote)
    question = f"“{m.group(1)}”" if m else quote.strip("> *")
    verdicts = []
    ref = paths.reference_dir() / name / "verdicts.csv"
    if ref.exists():
        df = pd.read_csv(ref)
        verdicts = [(r.claim, r.verdict) for r in df.itertuples()]
    claims = [r.claim for r in RULES.get(name, ())] or re.findall(r"\bC\d{1,2}\b", first)
    return {"name": name, "title": title, "question": question, "claims": claims,
            "verdicts": verdicts, "quick_s": measured_time(name, "quick", reference_only=True),
            "full_s": measured_time(name, "full", reference_only=True)}


def _duration(seconds) -> str:
    if seconds is None:
        return "not measured"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def index_html(summaries: list[dict]) -> str:
    """The site's front page (``site_index.html.j2``): a row per notebook summary, and the
    machine of the reference run."""
    from scalelab.results import reference

    try:
        m = reference.machine()
        env = m.get("environment", {})
        machine = {"mode": m.get("mode"), "recorded": m.get("recorded", "?")[:10],
                   "cores": env.get("cores", "?"), "cpu_model": str(env.get("cpu_model", "?")),
                   "commit": str(env.get("git_commit", "?"))[:12]}
    except FileNotFoundError:
        machine = None
    return render("site_index.html.j2", title=TITLE, nav=nav_html(), summaries=summaries,
                  machine=machine, duration=_duration)


def build(site: Path = SITE_DIR, timeout: int = 600, progress=print, on_executed=None,
          parallel: int = 2, student: Path | None = STUDENT_DIR, pdfs: bool = True) -> Path:
    """Execute every notebook in reference mode and write the site (worked solutions folded:
    the reading and teacher's edition) and, into ``student`` unless None, the student edition
    from the same executed notebooks (no worked solution). Starts no server and measures
    nothing, so ``parallel`` notebooks run at once (one kernel each). ``on_executed(result)``
    is handed each notebook's execution (``execution.execute``'s). ``pdfs``: each edition's
    notebooks and collection printed on A4 into its ``pdf/`` (``pdf.build``), where a
    Chromium is installed (else said, and skipped)."""
    from concurrent.futures import ThreadPoolExecutor

    from scalelab.plumbing.checks import check_int

    check_int("parallel", parallel, 1, 64)
    site = Path(site)
    work = paths.PROJECT_ROOT / "build" / "site-notebooks"
    site.mkdir(parents=True, exist_ok=True)
    vendor(site)  # fresh copies: an earlier export's may be from other versions

    def one(name: str) -> dict:
        from scalelab.publishing.execution import execute

        progress(f"  {name}: reference mode ...")
        res = execute(name, mode="reference", out_dir=work, html_dir=False, timeout=timeout)
        res.update(export_notebook(res["executed"], site, slides=True, in_site=True))
        progress(f"    {name}: {res['seconds']:.0f} s -> {paths.relative(res['html'])}")
        return res

    names = list(available())
    # papermill starts each kernel inside a chdir to the notebooks' folder and changes back
    # after; two threads interleaving that can leave this process in the notebooks' folder,
    # so the folder it was in is put back here
    here = os.getcwd()
    try:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            done = list(pool.map(one, names))  # in the catalogue's order
    finally:
        os.chdir(here)
    summaries = []
    for name, res in zip(names, done):
        if on_executed is not None:
            on_executed(res)
        summaries.append(notebook_summary(name))
    _pages_around(site, summaries)
    printer = _pdf_printer(names, progress) if pdfs else None
    editions = [lambda: site]
    if student is not None:
        editions.append(lambda: _student_edition(Path(student), done, summaries, progress))

    def finish(edition) -> None:  # the editions side by side: each mostly waits on Chromium
        folder = edition()
        if printer is not None:
            printer(folder)

    with ThreadPoolExecutor(max_workers=len(editions)) as pool:
        list(pool.map(finish, editions))
    return site / "index.html"


def _pdf_printer(names: list[str], progress):
    """What prints an edition's PDFs (``pdf.build``, a Chromium of its own each call), or None
    where no Chromium is installed (said)."""
    from scalelab.publishing import browser, pdf

    if browser.chromium() is None:
        progress(f"  no PDFs: {browser.MISSING}")
        return None
    return lambda folder: pdf.build(folder, names, progress=progress)


def _student_edition(student: Path, done: list[dict], summaries: list[dict], progress) -> Path:
    """The site's pages again from the same executed notebooks, without worked solutions."""
    vendor(student)
    for res in done:
        export_notebook(res["executed"], student, slides=True, in_site=True, edition="student")
    _pages_around(student, summaries)
    progress(f"  the student edition (no worked solution) -> {paths.relative(student)}/")
    return student


def _pages_around(site: Path, summaries: list[dict]) -> None:
    """The docs' pages, the index and ``summary.json`` of a site whose notebooks are written."""
    (site / "docs").mkdir(exist_ok=True)
    for md in sorted(DOCS_DIR.glob("*.md")):
        export_doc(md, site / "docs" / f"{md.stem}.html")
    paths.atomic_write_text(site / "index.html", index_html(summaries))
    paths.atomic_write_text(site / "summary.json", json.dumps(summaries, indent=2) + "\n")


def writes_prose_only(source: str) -> bool:
    """A code cell whose output is only prose or settings: it ends in ``show(...)`` (or
    ``show_rules``) and draws nothing. The site shows such cells' output, not their code, so
    they carry the ``hide-input`` tag (a test checks every notebook)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if not tree.body:
        return False
    def ends_in_show(stmt) -> bool:
        if isinstance(stmt, ast.If):  # every branch ends in show (a missing else shows nothing)
            return ends_in_show(stmt.body[-1]) and (not stmt.orelse
                                                    or ends_in_show(stmt.orelse[-1]))
        return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name)
                and stmt.value.func.id in ("show", "show_rules"))

    draws = any(isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                and n.value.id in ("plt", "plots") for n in ast.walk(tree))
    return ends_in_show(tree.body[-1]) and not draws
