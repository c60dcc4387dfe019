"""The headless Chromium the lab prints its PDFs with and its browser tests drive: Debian's
``chromium`` (``scripts/setup-browser.sh`` installs it as root on Debian), or the executable
``SCALELAB_CHROMIUM`` names, driven by Playwright from PyPI: no browser is downloaded."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Iterator

NAMES = ("chromium", "chromium-browser", "google-chrome")
MISSING = ("no chromium: `apt-get install chromium` (make test and make export install it on "
           "Debian as root) or set SCALELAB_CHROMIUM=/path/to/chromium")


def chromium() -> str | None:
    """The browser executable, or None (then ``MISSING`` says how to get one)."""
    override = os.environ.get("SCALELAB_CHROMIUM")
    if override:
        return override
    return next((p for p in map(shutil.which, NAMES) if p), None)


@contextlib.contextmanager
def launched() -> Iterator:
    """A headless Chromium (Playwright's ``Browser``), closed on leaving; FileNotFoundError
    with ``MISSING`` when there is none."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError(MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def serving(folder) -> Iterator[str]:
    """``folder`` over HTTP on 127.0.0.1, as a reader's browser gets a site (file:// pages
    may not load their own fonts); yields the base URL, stops on leaving."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # no line per file served
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
