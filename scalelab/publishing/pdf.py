"""Printable PDFs of the exported site (``make export``): each notebook and the whole
collection on A4, printed by the headless Chromium of ``browser`` from the site's own pages.

The collection is the notebooks' PDFs in the catalogue's order, joined (``pypdf``), with a
bookmark at each: printing them again as one page cost as much as printing them all.

A print style wraps wide tables (their cells may break lines) and fits figures to the page
width; a table still wider than the page after that is an error naming the page and the
table's first cell, since a cut table is a lost number. In the teacher's edition every worked
solution is printed open; the student edition has none to print.
"""

from __future__ import annotations

from pathlib import Path

from scalelab.plumbing import paths

MARGIN_MM = 12
# A4's width at the 96 px an inch a browser lays a page out with, less both margins
PAGE_WIDTH_PX = round((210 - 2 * MARGIN_MM) / 25.4 * 96)
PRINT_CSS = f"""
@page {{ size: A4; margin: {MARGIN_MM}mm; }}
@media print {{
  nav, .site-nav {{ display: none !important; }}
  .jp-OutputArea-output, .jp-RenderedHTMLCommon, .jp-Cell, .jp-OutputArea {{
    overflow: visible !important; max-width: 100% !important; }}
  table {{ table-layout: auto !important; max-width: 100% !important;
           font-size: 7pt !important; }}
  td, th {{ white-space: normal !important; overflow-wrap: anywhere; padding: 1px 3px !important; }}
  img, svg {{ max-width: 100% !important; height: auto !important; }}
  pre {{ white-space: pre-wrap !important; overflow-wrap: anywhere; }}
  details > summary {{ font-weight: bold; }}
  .jp-Cell, figure, img {{ break-inside: avoid; }}
}}
"""
# tables wider than the page once the print style applies: [page text of their first cell]
CUT_TABLES = f"""() => Array.from(document.querySelectorAll('table'))
  .filter(t => t.getBoundingClientRect().right > {PAGE_WIDTH_PX} + 1)
  .map(t => (t.querySelector('th, td') || t).innerText.trim().slice(0, 60))"""
OPEN_SOLUTIONS = "() => document.querySelectorAll('details').forEach(d => d.open = true)"


class CutTable(ValueError):
    """A table is wider than an A4 page even with the print style."""


def _print(page, url: str, out: Path) -> None:
    page.goto(url, wait_until="networkidle")
    page.add_style_tag(content=PRINT_CSS)
    page.emulate_media(media="print")
    page.evaluate(OPEN_SOLUTIONS)
    cut = page.evaluate(CUT_TABLES)
    if cut:
        raise CutTable(f"{len(cut)} table(s) of {url.rsplit('/', 1)[-1]} are wider than an A4 "
                       f"page even wrapped: the ones starting {cut[:3]}")
    pdf = page.pdf(format="A4", print_background=True,
                   margin={k: f"{MARGIN_MM}mm" for k in ("top", "bottom", "left", "right")})
    paths.atomic_write_bytes(out, pdf)


def collection(pdfs: list[Path], out: Path) -> Path:
    """The notebooks' PDFs in the order given, joined into ``out``, each from a new sheet
    (each starts one) and under a bookmark named after its file."""
    import io

    from pypdf import PdfWriter

    writer, data = PdfWriter(), io.BytesIO()
    for path in pdfs:
        writer.append(str(path), outline_item=Path(path).stem)
    writer.write(data)
    paths.atomic_write_bytes(out, data.getvalue())
    return out


def build(site: Path, names: list[str], progress=print) -> list[Path]:
    """``<site>/pdf/<name>.pdf`` for each notebook of the site and ``collection.pdf``;
    FileNotFoundError when no Chromium is installed (``browser.MISSING``), ``CutTable`` when a
    table cannot fit the page."""
    from scalelab.publishing import browser

    site = Path(site)
    out_dir = site / "pdf"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with browser.serving(site) as base, browser.launched() as b:
        page = b.new_page(viewport={"width": PAGE_WIDTH_PX, "height": 1100})
        for name in names:
            out = out_dir / f"{name}.pdf"
            _print(page, f"{base}/{name}.html", out)
            written.append(out)
        page.close()
    written.append(collection(written, out_dir / "collection.pdf"))
    progress(f"  {len(written)} PDFs (A4) -> {paths.relative(out_dir)}/")
    return written
