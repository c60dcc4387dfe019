"""The exported site as a reader without the lab sees it: built from the committed notebooks and
reference data with no server running, then opened in headless Chromium (the index, one
notebook, one slide deck): every image loads, no request leaves the machine, no console error,
no table cell cut with "...". Screenshots go to build/site-screenshots/."""

import contextlib
from urllib.parse import urlparse

import pytest

from scalelab.plumbing import paths
from scalelab.publishing import execution

pytestmark = [pytest.mark.browser, pytest.mark.notebooks]
SHOTS = paths.PROJECT_ROOT / "build" / "site-screenshots"


@pytest.fixture(scope="module")
def built_site(reference_site):
    assert not reference_site.started, \
        f"building the site started processes of ours: {reference_site.started}"
    return reference_site.root


@pytest.fixture(scope="module")
def served(built_site):
    """The site over HTTP on 127.0.0.1 (file:// pages may not load their own fonts)."""
    from scalelab.publishing import browser as chromium_browser

    with chromium_browser.serving(built_site) as url:
        yield url


def _visit(browser, url, shot, ready="() => document.readyState === 'complete'"):
    """Open ``url``; return what went wrong: requests off the machine, console errors,
    images that did not load, table cells cut with '...'."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside, errors = [], []

    def route(r):
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url, wait_until="networkidle")
    page.wait_for_function(ready, timeout=30_000)
    images = page.evaluate("() => Array.from(document.images).map(i => "
                           "[i.currentSrc.slice(0, 60), i.complete && i.naturalWidth > 0])")
    cut = page.evaluate("() => Array.from(document.querySelectorAll('td, th'))"
                        ".map(c => c.innerText.trim()).filter(t => t.endsWith('...') "
                        "|| t.endsWith('…'))")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        page.screenshot(path=str(SHOTS / shot), full_page=shot.endswith("-page.png"))
    text = page.inner_text("body")
    code = page.evaluate("() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea'))"
                         ".map(c => c.innerText)")
    page.close()
    return {"outside": outside, "errors": errors, "images": images, "cut": cut, "text": text,
            "code": code}


def test_the_index_lists_every_notebook_with_its_verdicts(served, browser):
    seen = _visit(browser, f"{served}/index.html", "index-page.png")
    assert not seen["outside"] and not seen["errors"] and not seen["cut"], seen
    for name in ("00-start-here", "01-baseline", "02-caching", "03-worker-counts"):
        assert name.split("-", 1)[0] in seen["text"] or name in seen["text"]
    assert "C13" in seen["text"] and "holds" in seen["text"]


def test_a_notebook_reads_as_an_essay_offline(served, browser):
    seen = _visit(browser, f"{served}/01-baseline.html", "01-baseline-page.png")
    assert not seen["outside"], seen["outside"]
    assert not seen["errors"], seen["errors"]
    assert seen["images"] and all(ok for _, ok in seen["images"]), seen["images"]
    assert not seen["cut"], seen["cut"]
    text = seen["text"]
    assert "Reference mode" in text, "the page says it shows the reference run"
    code = "\n".join(seen["code"])
    assert "MODE = " not in code, "the parameters cells are left out"
    assert "show(" not in code, "prose cells show their prose, not their code"
    assert "sweep(stack" in code, "the experiment's cells show their code"
    assert "Learning objectives" in text and "Key takeaways" in text


def test_links_between_pages_resolve(served, built_site):
    import re

    for page in ("index.html", "01-baseline.html", "docs/glossary.html"):
        html = (built_site / page).read_text()
        for href in re.findall(r'href="([^"#:]+\.(?:html|ipynb|md))(?:#[^"]*)?"', html):
            assert not href.endswith((".ipynb", ".md")), f"{page} links to {href}"
            assert (built_site / page).parent.joinpath(href).resolve().exists(), \
                f"{page}: {href} is missing"


def test_a_slide_deck_runs_offline(served, browser):
    seen = _visit(browser, f"{served}/01-baseline.slides.html", "01-baseline-slides.png",
                  ready="() => window.Reveal && Reveal.isReady()")
    assert not seen["outside"], seen["outside"]
    assert not seen["errors"], seen["errors"]
    assert all(ok for _, ok in seen["images"]), seen["images"]


def test_no_worked_solution_shows_until_opened_and_the_student_edition_has_none(
        served, browser, built_site):
    from scalelab.publishing import site

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{served}/01-baseline.html", wait_until="networkidle")
    details = page.locator("details")
    assert details.count() >= 3
    first = details.first
    body = first.locator("p").first
    assert not body.is_visible(), "a worked solution shows before it is opened"
    first.locator("summary").click()
    assert body.is_visible() and len(body.inner_text()) > 40
    # every solution's text sits inside its <details>: none follows it as plain text
    loose = page.evaluate("() => Array.from(document.querySelectorAll('summary')).filter("
                          "s => s.parentElement.children.length < 2).length")
    assert loose == 0, "a <details> closed right after its summary"
    page.close()
    student = site.STUDENT_DIR
    assert built_site == site.SITE_DIR  # the build wrote both editions beside each other
    notebooks = {p.name for p in built_site.glob("*.html") if p.name != "index.html"}
    assert notebooks and notebooks <= {p.name for p in student.glob("*.html")}
    for path in student.glob("*.html"):
        text = path.read_text()
        assert "<details>" not in text and "Worked solution to 1</summary>" not in text, path
    assert "in the teacher's edition" in (student / "01-baseline.html").read_text()


def test_every_notebook_and_the_collection_print_on_a4_in_both_editions(built_site):
    """Printed by the build (``pdf.build``), which fails on a table wider than the page."""
    from scalelab.publishing import pdf, site
    from scalelab.publishing.catalogue import available

    for folder in (built_site, site.STUDENT_DIR):
        for name in [*available(), "collection"]:
            path = folder / "pdf" / f"{name}.pdf"
            assert path.exists(), path
            data = path.read_bytes()
            assert data.startswith(b"%PDF") and len(data) > 10_000, path
    assert pdf.PAGE_WIDTH_PX == 703  # A4 less two 12 mm margins, at 96 px an inch


@pytest.mark.parametrize("deck", execution.available())
def test_every_slide_fits_its_frame_without_scrolling(served, browser, deck):
    """Each slide shown in turn, then measured: its content no taller and no wider than the
    frame (a long table is zoomed out to fit, not cut or scrolled), and still readable."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    # the deck's scripts, styles and fonts are loaded ("load"); no request may leave the
    # machine, which the index's and the notebook's visits check (``_visit``)
    page.goto(f"{served}/{deck}.slides.html", wait_until="load")
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
    # every slide in one call (each shown, fitted and measured in turn, as a reader steps)
    shown = page.evaluate(
        """() => Reveal.getSlides().map(s => { const at = Reveal.getIndices(s);
                    Reveal.slide(at.h, at.v); const k = window.scalelabSlides.fit(s);
                    const e = window.scalelabSlides.extent(s);
                    return [k, e.height, e.width, (s.innerText || '').slice(0, 40)]; })""")
    page.close()
    total, zooms = len(shown), [k for k, *_ in shown]
    too_big = [one for one in shown if one[1] > 1.01 or one[2] > 1.01]
    assert total > 5 and not too_big, too_big
    assert min(zooms) >= 0.3, f"a slide zoomed out to {min(zooms):.2f}: split it"


def test_a_table_wider_than_a4_stops_the_print_and_is_named(tmp_path):
    """The check the PDFs pass can fail: a table of fixed width past the page."""
    from scalelab.publishing import browser as chromium_browser
    from scalelab.publishing import pdf

    if chromium_browser.chromium() is None:
        pytest.skip(chromium_browser.MISSING)
    cells = "".join(f"<td>{i}</td>" for i in range(5))
    (tmp_path / "wide.html").write_text(
        "<html><head></head><body><table style='width: 1200px; min-width: 1200px'>"
        f"<tr><th>first cell</th>{cells}</tr></table></body></html>")
    (tmp_path / "fits.html").write_text(
        f"<html><head></head><body><table><tr><th>first cell</th>{cells}</tr></table>"
        "</body></html>")
    with pytest.raises(pdf.CutTable, match="wide.html.*first cell"):
        pdf.build(tmp_path, ["wide"], progress=lambda m: None)
    assert [p.name for p in pdf.build(tmp_path, ["fits"], progress=lambda m: None)] == \
        ["fits.pdf", "collection.pdf"]
