"""Each way of serving static files (notebook 04) serves the right bytes with the right
headers: content type, encoding, cache lifetime, and 304 on a conditional request."""

import gzip
import re
import urllib.error
import urllib.request

import pytest
from polling import eventually

from scalelab import Stack
from scalelab.experiments import static
from scalelab.plumbing import paths

# behaviour only (bytes and headers, each test its own stack): beside the other tests
pytestmark = [pytest.mark.servers, pytest.mark.unmeasured]
STATIC = paths.APP_DIR / "qa" / "static" / "qa"


def get(url, headers=None):
    """(status, headers, body as sent: not decompressed)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_django_serves_its_own_static_files_with_last_modified_and_304():
    with Stack(static="django", questions=2_000, label="static-django") as st:
        status, h, body = get(st.app_url + "/static/qa/app.js")
        assert status == 200 and body == (STATIC / "app.js").read_bytes()
        assert "javascript" in h["Content-Type"] and h["Last-Modified"]
        assert "Content-Encoding" not in h, "Django's static view does not compress"
        again, _, empty = get(st.app_url + "/static/qa/app.js",
                              {"If-Modified-Since": h["Last-Modified"]})
        assert again == 304 and empty == b""


def test_whitenoise_serves_hashed_precompressed_files_for_a_year():
    with Stack(static="whitenoise", questions=2_000, label="static-whitenoise") as st:
        page = get(st.app_url + "/")[2].decode()
        hashed = re.search(r"/static/qa/app\.[0-9a-f]{12}\.js", page)
        assert hashed, "the page links the hashed name collectstatic made"
        assert static.page_view(st, "/")[1].split("/")[-1].count(".") == 2, \
            "notebook 04's page view asks for the hashed names"
        url = st.app_url + hashed.group(0)
        status, h, body = get(url, {"Accept-Encoding": "gzip"})
        assert status == 200 and h["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == (STATIC / "app.js").read_bytes()
        assert "javascript" in h["Content-Type"]
        assert "max-age=315360000" in h["Cache-Control"] and "immutable" in h["Cache-Control"]
        again, _, empty = get(url, {"If-None-Match": h["ETag"], "Accept-Encoding": "gzip"})
        assert again == 304 and empty == b""
        status, h, body = get(url)
        assert status == 200 and "Content-Encoding" not in h
        assert body == (STATIC / "app.js").read_bytes()


def test_nginx_serves_static_files_itself_compressed_with_a_lifetime():
    with Stack(static="none", proxy="nginx", gzip=True, questions=2_000,
               label="static-nginx") as st:
        assert get(st.app_url + "/static/qa/app.js")[0] == 404, "the app serves none itself"
        url = st.base_url + "/static/qa/app.js"
        status, h, body = get(url, {"Accept-Encoding": "gzip"})
        assert status == 200 and h["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == (STATIC / "app.js").read_bytes()
        assert "javascript" in h["Content-Type"] and "max-age=3600" in h["Cache-Control"]
        again, _, empty = get(url, {"If-None-Match": h["ETag"], "Accept-Encoding": "gzip"})
        assert again == 304 and empty == b""
        status, h, body = get(st.base_url + "/static/qa/banner.jpg", {"Accept-Encoding": "gzip"})
        assert status == 200 and h["Content-Type"] == "image/jpeg"
        assert "Content-Encoding" not in h, "a JPEG is not compressed again"
        assert body == (STATIC / "banner.jpg").read_bytes()
        status, h, page = get(st.base_url + "/", {"Accept-Encoding": "gzip"})
        assert status == 200 and h["Content-Encoding"] == "gzip", "pages are compressed too"


def test_a_browser_like_page_load_revalidates_or_skips_what_it_cached():
    with Stack(static="none", proxy="nginx", gzip=True, questions=2_000,
               label="static-pageload") as st:
        browser = static.Browser(st.base_url)
        first = browser.visit("/", "first")
        assert first.statuses == {200: 5}, "the page and its 4 assets (CSS, JS, logo, banner)"
        again = browser.visit("/", "revalidate")
        assert again.requests == 5 and again.not_modified == 4
        assert again.wire_bytes < first.wire_bytes / 3, "304s carry no bodies"
        fresh = browser.visit("/", "fresh")
        assert fresh.requests == 1 and fresh.from_cache == 4, "nginx gave them an hour"
        plain = static.Browser(st.base_url, compress=False).visit("/", "first")
        assert plain.wire_bytes > first.wire_bytes * 1.2, "compression shrinks CSS, JS, HTML"
        slow = static.Browser(st.base_url, link_mbit_s=1).visit("/", "first")
        assert slow.seconds >= 0.95 * slow.wire_bytes / 125_000, \
            "the connections share the link: all the bytes cross it at its speed"

    with Stack(static="django", questions=2_000, label="static-pageload-django") as st:
        browser = static.Browser(st.app_url)
        browser.visit("/", "first")
        fresh = browser.visit("/", "fresh")
        assert fresh.from_cache == 0 and fresh.not_modified == 4, \
            "Django's static view sets no lifetime: every asset is asked for again"


def test_nginx_passes_static_to_the_app_when_the_app_serves_it_and_logs_its_own_time():
    with Stack(static="whitenoise", proxy="nginx", questions=2_000,
               label="static-whitenoise-nginx") as st:
        page = get(st.base_url + "/")[2].decode()
        hashed = re.search(r"/static/qa/site\.[0-9a-f]{12}\.css", page).group(0)
        status, h, body = get(st.base_url + hashed)
        assert status == 200 and body == (STATIC / "site.css").read_bytes()
        assert "immutable" in h["Cache-Control"], "WhiteNoise's headers, not nginx's hour"
        proxy = st.services["proxy"]
        since = proxy.log_position()
        for _ in range(3):
            get(st.base_url + "/health/")
        times = eventually(lambda: (lambda t: t if len(t) >= 3 else None)(
            proxy.request_times("/health/", since)), timeout=15, what="three logged requests")
        assert len(times) == 3 and all(0 <= t < 2000 for t in times)
        assert proxy.request_times(hashed, since) == [], "only what followed `since`"
