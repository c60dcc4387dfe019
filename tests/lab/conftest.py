"""The headless browser of the tests in this folder: Debian's chromium driven by Playwright."""

import pytest

from lab_driver import chromium


@pytest.fixture(scope="module")
def browser():
    """One Chromium for a module's tests (each test opens pages of its own, each page in a
    context of its own): launching it took a second or two a test."""
    from scalelab.publishing import browser as chromium_browser

    if chromium() is None:
        pytest.skip(chromium_browser.MISSING)
    with chromium_browser.launched() as b:
        yield b
