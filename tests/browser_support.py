"""Headless Chromium for the report and dashboard tests (Debian's /usr/bin/chromium via Playwright).

Outside CI a missing Chromium skips the browser tests; in CI (``CI`` set) it fails them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("BALLAST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> str:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"{CHROMIUM} missing in CI: run .ci/services.sh")
        pytest.skip(f"{CHROMIUM} not installed")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module."""
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, headless=True, args=ARGS)
        yield b
        b.close()
