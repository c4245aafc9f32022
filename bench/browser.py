"""What people feel: the bytes a third-party page loads for the HELP button and those of the help
page, and the time from Jane's "Connect me" to the ring on the advisor's desk, in Chromium on the
demo. Both clocks are the pages' own Date.now(), on one machine."""

from __future__ import annotations

import gzip
import re
import statistics
import tempfile
from pathlib import Path
from urllib.request import urlopen

from bench.common import Result
from tests.support.browser import chromium
from tests.support.helpdesk_browser import advisor_desk
from tests.support.processes import demo_portal

ROUNDS = 7
WATCH_RINGS = """() => {
  window.rings = [];
  new MutationObserver(() => window.rings.push(Date.now()))
    .observe(document.getElementById("ringing"), { childList: true });
}"""
CONNECT = """() => {
  const at = Date.now();
  document.querySelector("#help-form button[type=submit]").click();
  return at;
}"""


def _gzipped(url: str) -> int:
    with urlopen(url) as response:  # noqa: S310 (the demo on loopback)
        return len(gzip.compress(response.read(), 9))


def _page_weight(base: str) -> tuple[int, int]:
    loader = _gzipped(base + "/static/help-button.js")
    with urlopen(base + "/help/?queue=tax-help") as response:  # noqa: S310
        html = response.read()
    assets = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', html.decode()))
    scripts = {"/static/js/socket.js", "/static/js/chat.js"} if any("help.js" in a for a in assets) else set()
    page = len(gzip.compress(html, 9)) + sum(_gzipped(base + path) for path in assets | scripts)
    return loader, page


def _ring_delays(base: str) -> list[float]:
    delays = []
    with chromium() as browser:
        desk = advisor_desk(browser, base)
        desk.evaluate(WATCH_RINGS)
        for _ in range(ROUNDS):
            jane = browser.new_context().new_page()
            jane.goto(base + "/help/?queue=tax-help")
            rings_before = desk.evaluate("window.rings.length")
            clicked = jane.evaluate(CONNECT)
            desk.wait_for_function(f"window.rings.length > {rings_before}", timeout=10_000)
            delays.append(desk.evaluate("window.rings[window.rings.length - 1]") - clicked)
            desk.locator("#ringing button", has_text="Decline").first.click()  # free the advisor again
            desk.wait_for_function("document.querySelectorAll('#ringing li').length === 0")
            jane.context.close()
    return delays


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp, demo_portal(Path(tmp)) as base:
        loader, page = _page_weight(base)
        delays = _ring_delays(base)
    # From the moment Jane submits her choice (the HELP click only opens the page where she makes it).
    metric = f"Connect me to advisor ring, median of {ROUNDS}"
    ring = Result("browser (Chromium, demo)", metric, statistics.median(delays), "ms", target="< 150 ms")
    ring.samples = delays
    return [
        Result("page weight", "HELP loader on the third-party page", loader, "B gzip", target="< 5 KB"),
        Result("page weight", "help page with its CSS and scripts", page, "B gzip"),
        ring,
    ]
