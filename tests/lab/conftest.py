"""The headless browser of the tests in this folder: Debian's chromium driven by Playwright."""

import pytest

from lab_driver import chromium


@pytest.fixture
def browser():
    from scalelab.publishing import browser as chromium_browser

    if chromium() is None:
        pytest.skip(chromium_browser.MISSING)
    with chromium_browser.launched() as b:
        yield b
