"""The exported site (``make export``): every notebook as an HTML essay and as reveal.js slides,
the docs, and an index, under ``build/site/``, readable with no network and no server.

The notebooks are executed in reference mode first (``scalelab.results.reference``: seconds, no server),
so the site shows the committed reference run through the committed notebooks. In the HTML,
cells tagged ``hide-input`` (prose computed from the data, set-up) show their output only,
the ``parameters`` cell and papermill's injected one are left out, links to ``.ipynb`` and
``.md`` files point to their HTML pages, and MathJax and reveal.js come from ``vendor/``.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

from scalelab.plumbing import paths

SITE_DIR = paths.PROJECT_ROOT / "build" / "site"
TEMPLATES = Path(__file__).resolve().parent / "site_templates"
ASSETS = paths.PROJECT_ROOT / ".venv" / "site-assets" / "node_modules"  # scripts/setup-site-assets.sh
DOCS_DIR = paths.PROJECT_ROOT / "docs"
HIDDEN_CELLS = ("parameters", "injected-parameters", "remove-cell")
HIDDEN_INPUTS = ("hide-input",)


def vendor(site: Path, required: bool = True) -> Path | None:
    """Copy MathJax and reveal.js into ``site/vendor/`` (from ``.venv/site-assets``). When
    they were never fetched: raise, or (``required=False``) warn and return None."""
    needed = {ASSETS / "mathjax" / "es5": site / "vendor" / "mathjax",
              ASSETS / "reveal.js" / "dist": site / "vendor" / "reveal.js" / "dist",
              ASSETS / "reveal.js" / "plugin" / "notes": site / "vendor" / "reveal.js" / "plugin"
              / "notes"}
    missing = [src for src in needed if not src.exists()]
    if missing and not required:
        import warnings

        warnings.warn("MathJax and reveal.js are not fetched yet (`bash scripts/setup-site-assets.sh`"
                      "): the HTML has no maths rendering and the slides do not advance",
                      stacklevel=2)
        return None
    if missing:
        raise FileNotFoundError(f"the site's scripts are missing ({', '.join(map(str, missing))}); "
                                "`bash scripts/setup-site-assets.sh` fetches reveal.js and MathJax "
                                "once from the npm registry (`make export` runs it)")
    for src, dst in needed.items():
        if src.name == "es5":  # MathJax: the one combined file and its fonts, not every build
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copy(src / "tex-chtml-full.js", dst)
            shutil.copytree(src / "output" / "chtml" / "fonts" / "woff-v2",
                            dst / "output" / "chtml" / "fonts" / "woff-v2", dirs_exist_ok=True)
        else:
            shutil.copytree(src, dst, dirs_exist_ok=True)
    return site / "vendor"


def _links(text: str, in_docs: bool = False) -> str:
    """Links to notebooks and docs, as the site names them. On a notebook's page:
    ``01-baseline.ipynb`` -> ``01-baseline.html``, ``../docs/method.md`` -> ``docs/method.html``;
    on a page of ``docs/``: ``../notebooks/01-baseline.ipynb`` -> ``../01-baseline.html``,
    ``method.md`` -> ``method.html``. Anchors are kept."""
    root, docs = ("../", "") if in_docs else ("", "docs/")
    text = re.sub(r'href="(?:\./|(?:\.\./)?notebooks/)?([\w.-]+)\.ipynb(#[^"]*)?"',
                  lambda m: f'href="{root}{m.group(1)}.html{m.group(2) or ""}"', text)
    docs_link = r'href="([\w.-]+)\.md(#[^"]*)?"' if in_docs \
        else r'href="(?:\.\./)?docs/([\w.-]+)\.md(#[^"]*)?"'
    return re.sub(docs_link, lambda m: f'href="{docs}{m.group(1)}.html{m.group(2) or ""}"', text)


def _prepare(nb, slides: bool = False):
    """The notebook's slide types for reveal.js (hidden cells go in the exporter's tag
    preprocessor)."""
    if slides:  # a section per slide; each figure or table on a slide below it, with its prose
        for cell in nb.cells:
            if "slideshow" in cell.metadata:
                continue
            starts_section = cell.cell_type == "markdown" and cell.source.lstrip().startswith("#")
            shows_data = cell.cell_type == "code" and any(
                {"image/png", "text/html"} & set(o.get("data", {})) for o in cell.get("outputs", []))
            kind = "slide" if starts_section else "subslide" if shows_data else "-"
            cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


def _exporter(kind: str):
    from nbconvert import HTMLExporter, SlidesExporter
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = set(HIDDEN_INPUTS)
    c.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_CELLS)
    cls = SlidesExporter if kind == "slides" else HTMLExporter
    exporter = cls(config=c, template_name="slides" if kind == "slides" else "essay",
                   extra_template_basedirs=[str(TEMPLATES)],
                   extra_template_paths=[str(TEMPLATES)])
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    if kind == "slides":
        exporter.reveal_url_prefix = "vendor/reveal.js"
        exporter.reveal_theme = "white"  # its font is bundled; other themes load Google's
    exporter.embed_images = True
    return exporter


def nav_html(current: str = "") -> str:
    from scalelab.publishing.execution import available

    items = ['<a href="index.html">Index</a>']
    for name in available():
        label = name.split("-", 1)[0] if name[0].isdigit() else name.split("-", 1)[0].title()
        items.append(f'<a href="{name}.html"' + (' aria-current="page"' if name == current else "")
                     + f">{html.escape(label)}</a>")
    items.append('<a href="docs/glossary.html">Glossary</a>')
    return " ".join(items)


def export_notebook(executed: Path, out_dir: Path, slides: bool = False,
                    in_site: bool = False) -> dict:
    """Write ``<out_dir>/<name>.html`` (and ``.slides.html``) from an executed notebook, with
    MathJax and reveal.js in ``<out_dir>/vendor/``; ``in_site`` adds the site's navigation."""
    import nbformat

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not (out_dir / "vendor" / "mathjax" / "tex-chtml-full.js").exists():
        vendor(out_dir, required=in_site)
    vendor_prefix = "vendor"
    name = Path(executed).stem
    written = {}
    kinds = ["html"] + (["slides"] if slides else [])
    for kind in kinds:
        nb = _prepare(nbformat.read(executed, as_version=4), slides=kind == "slides")
        body, _ = _exporter(kind).from_notebook_node(
            nb, resources={"vendor_prefix": vendor_prefix,
                           "nav_html": nav_html(name) if in_site else ""})
        target = out_dir / (f"{name}.slides.html" if kind == "slides" else f"{name}.html")
        paths.atomic_write_text(target, _links(body))
        written[kind] = target
    return written


def export_doc(md: Path, out: Path) -> Path:
    """A Markdown document of ``docs/`` as a page of the site (same look as the index)."""
    import mistune

    body = _add_heading_ids(_links(mistune.html(md.read_text()), in_docs=True))
    title = md.stem.replace("-", " ").capitalize()
    paths.atomic_write_text(out, _page(title, body, prefix="../"))
    return out


def _add_heading_ids(body: str) -> str:
    """``<h2>Knee</h2>`` -> ``<h2 id="knee">``, so notebooks can link to a term."""
    def repl(m):
        slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"<[^>]+>", "", m.group(2)).lower()).strip("-")
        return f'<h{m.group(1)} id="{slug}">{m.group(2)}</h{m.group(1)}>'
    return re.sub(r"<h([1-4])>(.*?)</h\1>", repl, body)


STYLE = """
body { font: 16px/1.5 system-ui, -apple-system, sans-serif; max-width: 62rem; margin: 0 auto;
       padding: 0 1rem 3rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
code { background: #f4f4f4; padding: 0 3px; }
nav a { margin-right: 1em; }
.verdict { font-weight: 600; }
"""


def _page(title: str, body: str, prefix: str = "") -> str:
    nav = nav_html().replace('href="', f'href="{prefix}')
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>"
            f"<nav>{nav}</nav>\n{body}\n</body></html>\n")


def notebook_summary(name: str) -> dict:
    """What the index says of a notebook: its title, question, claim ids, run times and
    verdicts (from the reference run)."""
    import nbformat
    import pandas as pd

    from scalelab.publishing.execution import measured_time, resolve
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
    from scalelab.results import reference

    rows = []
    for s in summaries:
        verdicts = "<br>".join(f"{c}: <span class=verdict>{html.escape(v)}</span>"
                               for c, v in s["verdicts"]) or (
            "not in the reference run yet" if s["claims"] else "none: it teaches the ideas")
        rows.append(
            f"<tr><td><a href=\"{s['name']}.html\">{html.escape(s['title'])}</a>"
            f"<br><small><a href=\"{s['name']}.slides.html\">slides</a></small></td>"
            f"<td>{html.escape(s['question'])}</td><td>{', '.join(s['claims']) or '-'}</td>"
            f"<td>quick {_duration(s['quick_s'])}<br>full {_duration(s['full_s'])}</td>"
            f"<td>{verdicts}</td></tr>")
    try:
        m = reference.machine()
        env = m.get("environment", {})
        machine = (f"The figures and verdicts come from the lab's reference run ({m.get('mode')} "
                   f"mode, {m.get('recorded', '?')[:10]}, {env.get('cores', '?')} cores, "
                   f"{html.escape(str(env.get('cpu_model', '?')))}, commit "
                   f"{html.escape(str(env.get('git_commit', '?'))[:12])}).")
    except FileNotFoundError:
        machine = "No reference run is recorded yet."
    body = (
        "<h1>Does Django scale? A lab in notebooks</h1>"
        "<p>Each notebook takes one question from the thread, load-tests a bundled Django app on "
        "real servers, and decides the thread's claims by rules stated before the data. "
        f"{machine} Run them yourself with <code>make reproduce</code>.</p>"
        "<table><tr><th>notebook</th><th>the question</th><th>claims</th><th>time to run</th>"
        "<th>verdicts (reference run)</th></tr>" + "".join(rows) + "</table>"
        "<p>Reference pages: <a href=\"docs/glossary.html\">glossary</a>, "
        "<a href=\"docs/method.html\">method</a>, <a href=\"docs/claims.html\">claims</a>, "
        "<a href=\"docs/architecture.html\">architecture</a>.</p>")
    return _page("Does Django scale? A lab in notebooks", body)


def build(site: Path = SITE_DIR, timeout: int = 600, progress=print) -> Path:
    """Execute every notebook in reference mode and write the site. Starts no server."""
    from scalelab.publishing.execution import available, execute

    site = Path(site)
    work = paths.PROJECT_ROOT / "build" / "site-notebooks"
    site.mkdir(parents=True, exist_ok=True)
    vendor(site)  # fresh copies: an earlier export's may be from other versions
    summaries = []
    for name in available():
        progress(f"  {name}: reference mode ...")
        res = execute(name, mode="reference", out_dir=work, html_dir=False, timeout=timeout)
        res.update(export_notebook(res["executed"], site, slides=True, in_site=True))
        progress(f"    {res['seconds']:.0f} s -> {paths.relative(res['html'])}")
        summaries.append(notebook_summary(name))
    (site / "docs").mkdir(exist_ok=True)
    for md in sorted(DOCS_DIR.glob("*.md")):
        export_doc(md, site / "docs" / f"{md.stem}.html")
    paths.atomic_write_text(site / "index.html", index_html(summaries))
    paths.atomic_write_text(site / "summary.json", json.dumps(summaries, indent=2) + "\n")
    return site / "index.html"


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
