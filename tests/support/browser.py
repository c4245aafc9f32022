"""Debian's Chromium driven by Playwright (its own browser download does not work here)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.services import require_binary

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    with chromiums(list(extra_args)) as (browser,):
        yield browser


@contextmanager
def chromiums(*extra_args: list[str]) -> Iterator[list[Any]]:
    """A Chromium process for each list of extra arguments (each process takes one fake audio
    capture file, so two people who must sound different need two processes)."""
    from playwright.sync_api import sync_playwright

    executable = require_binary("chromium")
    with sync_playwright() as playwright:
        browsers = [
            playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS + list(more))
            for more in extra_args
        ]
        try:
            yield browsers
        finally:
            for browser in browsers:
                browser.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
