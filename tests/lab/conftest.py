"""The headless browser of the tests in this folder: Debian's chromium driven by Playwright."""

import pytest

from lab_driver import chromium


@pytest.fixture
def browser():
    exe = chromium()
    if exe is None:
        pytest.skip("no chromium: `apt-get install chromium` (make test installs it on Debian "
                    "as root) or set SCALELAB_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
        yield b
        b.close()
