"""Export one executed notebook as pages of the site: an HTML essay and reveal.js slides
(nbconvert), with links rewritten to the site's pages and MathJax and reveal.js copied beside
them; also the site's navigation and the Jinja2 templates of its own pages.

In the HTML, cells tagged ``hide-input`` (prose computed from the data, set-up) show their
output only, and the ``parameters`` cell and papermill's injected one are left out. Below both
``execution`` (which exports what it ran) and ``site`` (which exports every notebook).
"""

from __future__ import annotations

import functools
import html
import re
import shutil
from pathlib import Path

from scalelab.plumbing import paths
from scalelab.publishing.catalogue import available

TEMPLATES = Path(__file__).resolve().parent / "site_templates"
ASSETS = paths.PROJECT_ROOT / ".venv" / "site-assets" / "node_modules"  # scripts/setup-site-assets.sh
HIDDEN_CELLS = ("parameters", "injected-parameters", "remove-cell")
HIDDEN_INPUTS = ("hide-input",)
# the site's editions: "reading" (the site and the teacher's edition: every worked solution
# folded until opened) and "student" (no worked solution at all)
EDITIONS = ("reading", "student")
SOLUTION = re.compile(r"<details>\s*<summary>(?P<summary>.*?)</summary>(?P<body>.*?)</details>",
                      re.S)


def solutions(markdown: str, edition: str = "reading") -> str:
    """A markdown cell's worked solutions (``<details><summary>..</summary>`` markdown
    ``</details>``) as one HTML block each, their markdown rendered, so an exported page keeps
    them folded until opened (nbconvert's renderer ends a ``<details>`` block at its first blank
    line and shows the solution as plain text). The student edition leaves them out and says
    so."""
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {', '.join(map(repr, EDITIONS))}, not "
                         f"{edition!r}")

    def one(m: re.Match) -> str:
        summary = m["summary"].strip()
        if edition == "student":
            return (f'\n\n<p class="solution-left-out"><em>{summary}: in the teacher\'s '
                    "edition.</em></p>\n\n")
        from nbconvert.filters.markdown_mistune import markdown2html_mistune

        body = markdown2html_mistune(m["body"].strip())
        # one HTML block: no blank line inside it, which would end it
        body = re.sub(r"\n\s*\n", "\n", body).strip()
        return f"\n\n<details><summary>{summary}</summary>\n{body}\n</details>\n\n"

    return SOLUTION.sub(one, markdown)


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


def page_links(text: str, in_docs: bool = False) -> str:
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


def _prepare(nb, slides: bool = False, edition: str = "reading"):
    """The notebook's worked solutions for ``edition`` (:func:`solutions`), written in markdown
    or shown by a code cell (``notebook.solution``), and its slide types
    for reveal.js (hidden cells go in the exporter's tag preprocessor)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "<details>" in cell.source:
            cell.source = solutions(cell.source, edition)
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            shown = out.get("data", {}).get("text/markdown")  # ``notebook.solution``'s
            if isinstance(shown, str) and "<details>" in shown:
                out["data"]["text/markdown"] = solutions(shown, edition)
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


@functools.cache
def _pages():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["esc"] = html.escape
    return env


def render(template: str, **values) -> str:
    """One of the site's own pages from ``site_templates/site_*.html.j2`` (nbconvert renders
    the notebooks with the folders beside them). Nothing is escaped unless the template says
    ``| esc`` (:func:`html.escape`): the values include HTML already made."""
    return _pages().get_template(template).render(**values)


def nav_html(current: str = "", prefix: str = "") -> str:
    """The site's navigation: the index, each notebook (``current`` marked), the glossary;
    ``prefix`` leads every link (``../`` on a page of ``docs/``)."""
    notebooks = [(name, name.split("-", 1)[0] if name[0].isdigit()
                  else name.split("-", 1)[0].title()) for name in available()]
    return render("site_nav.html.j2", notebooks=notebooks, current=current, prefix=prefix)


def export_notebook(executed: Path, out_dir: Path, slides: bool = False,
                    in_site: bool = False, edition: str = "reading") -> dict:
    """Write ``<out_dir>/<name>.html`` (and ``.slides.html``) from an executed notebook, with
    MathJax and reveal.js in ``<out_dir>/vendor/``; ``in_site`` adds the site's navigation;
    ``edition``: worked solutions folded ("reading") or left out ("student")."""
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
        nb = _prepare(nbformat.read(executed, as_version=4), slides=kind == "slides",
                      edition=edition)
        body, _ = _exporter(kind).from_notebook_node(
            nb, resources={"vendor_prefix": vendor_prefix,
                           "nav_html": nav_html(name) if in_site else ""})
        target = out_dir / (f"{name}.slides.html" if kind == "slides" else f"{name}.html")
        paths.atomic_write_text(target, page_links(body))
        written[kind] = target
    return written
