"""What people feel: the bytes a third-party page loads for the HELP button and those of the help
page, the time from Jane's "Connect me" to the ring on the advisor's desk, and from the advisor's
Answer to Jane hearing audio in a call added to the chat, in Chromium on the demo; then the same
for a call converted by rtpengine (bench/converted.py). The clocks are the pages' own Date.now(),
on one machine."""

from __future__ import annotations

import gzip
import re
import statistics
import tempfile
from pathlib import Path
from urllib.request import urlopen

from bench.common import Result, percentile
from bench.converted import answer_to_audio
from bench.page_clock import ANSWER, WATCH_AUDIO
from tests.support.browser import chromium
from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat
from tests.support.processes import demo_portal

ROUNDS = 7
CALL_ROUNDS = 20
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
    imported = ("socket.js", "chat.js", "call_panel.js", "call.js", "ice.js")  # help.js's modules
    scripts = {f"/static/js/{name}" for name in imported} if any("help.js" in a for a in assets) else set()
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


def _answer_to_audio(base: str) -> list[float]:
    """Jane calls the advisor beside her chat CALL_ROUNDS times; from the Answer click to her first audio."""
    delays = []
    with chromium() as browser:
        desk = advisor_desk(browser, base)
        jane = jane_asks_for_chat(browser, base)
        desk.locator("#ringing button", has_text="Accept").click()
        jane.locator("#status", has_text="You are talking with").wait_for()
        pane = desk.locator(".conversation").last
        for _ in range(CALL_ROUNDS):
            jane.get_by_role("button", name="Call", exact=True).click()
            pane.get_by_role("button", name="Answer").wait_for()
            jane.evaluate(WATCH_AUDIO)
            answered = desk.evaluate(ANSWER)
            jane.wait_for_function("window.audioAt !== null", timeout=20_000)
            delays.append(jane.evaluate("window.audioAt") - answered)
            jane.get_by_role("button", name="Hang up").click()
            pane.get_by_role("button", name="Call", exact=True).wait_for()
    return delays


def _median_and_p95(benchmark: str, metric: str, samples: list[float]) -> list[Result]:
    median = Result(benchmark, f"{metric}, median of {len(samples)}", statistics.median(samples), "ms")
    median.samples, median.target = samples, "< 1000 ms (aim 300)"
    p95 = percentile(sorted(samples), 0.95)
    return [median, Result(benchmark, f"{metric}, p95 of {len(samples)}", p95, "ms", target="< 1000 ms")]


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp, demo_portal(Path(tmp)) as base:
        loader, page = _page_weight(base)
        delays = _ring_delays(base)
        audio = _answer_to_audio(base)
    converted = answer_to_audio()
    # From the moment Jane submits her choice (the HELP click only opens the page where she makes it).
    metric = f"Connect me to advisor ring, median of {ROUNDS}"
    ring = Result("browser (Chromium, demo)", metric, statistics.median(delays), "ms", target="< 150 ms")
    ring.samples = delays
    return [
        Result("page weight", "HELP loader on the third-party page", loader, "B gzip", target="< 5 KB"),
        Result("page weight", "help page with its CSS and scripts", page, "B gzip"),
        ring,
        *_median_and_p95("browser (Chromium, demo)", "Answer to audio heard, passed through", audio),
        *_median_and_p95("browser and G.711 phone (production shape)", "Answer to audio heard, converted", converted),
    ]
