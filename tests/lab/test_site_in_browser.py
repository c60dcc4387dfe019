"""The exported site as a reader without the lab sees it: built from the committed notebooks and
reference data with no server running, then opened in headless Chromium (the index, one
notebook, one slide deck): every image loads, no request leaves the machine, no console error,
no table cell cut with "...". Screenshots go to build/site-screenshots/."""

import contextlib
import functools
import http.server
import threading
from urllib.parse import urlparse

import pytest

from scalelab.plumbing import paths

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
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_site))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
