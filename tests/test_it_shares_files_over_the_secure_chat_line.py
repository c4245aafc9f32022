"""On the secure chat line Jane shares a file with her advisor, end to end over the line's data
channels: a 20 MB file arrives intact, both sides watch its progress, the advisor saves it and
gets the very bytes Jane chose (SHA-256 compared) without a Content Security Policy violation;
either side cancels a transfer and both see it cancelled, as a return to the standard chat stops
one on the way; a file over 50 MB is refused plainly,
and one whose bytes were altered on the way is shown damaged and not offered for saving."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import in_conversation
from tests.support.secure_line import advisor_switches, file_with, share, transfer

MB = 1024 * 1024
# Every value each page's progress bars take, as they take them.
WATCH_PROGRESS = """() => {
  window.progressSeen = [];
  new MutationObserver((changes) => {
    for (const { target } of changes) {
      if (target.tagName === "PROGRESS") window.progressSeen.push([target.value, target.max]);
    }
  }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["value"] });
}"""


def _watched(browser: Any, seen: list[str]) -> Any:
    context = browser.new_context()
    context.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return context


def _moved_through(page: Any) -> bool:
    """Whether a progress bar showed the transfer part way, not only empty and full."""
    return any(0 < value < maximum for value, maximum in page.evaluate("window.progressSeen"))


def test_it_carries_a_20_mb_file_intact_with_progress_on_both_sides(demo_server, tmp_path):
    name = f"figures-{uuid.uuid4().hex[:6]}.bin"
    original = file_with(tmp_path / name, 20 * MB, "a phrase inside")
    violations: list[str] = []
    with chromium() as browser:
        contexts = {"desk_context": _watched(browser, violations), "jane_context": _watched(browser, violations)}
        jane, desk, pane = in_conversation(demo_server, browser, **contexts)
        advisor_switches(jane, pane)
        for page in (jane, desk):
            page.evaluate(WATCH_PROGRESS)
        share(jane, tmp_path / name)
        arriving = transfer(pane, name, arriving=True)
        arriving.get_by_text("Arrived intact: its SHA-256 matches what was sent.").wait_for(timeout=60_000)
        sent = transfer(jane, name, arriving=False)
        sent.get_by_text("Arrived intact: the other side checked its SHA-256.").wait_for()
        assert "20.0 MB" in (arriving.text_content() or "")
        for page, item in ((jane, sent), (desk, arriving)):
            bar = item.get_by_role("progressbar", name=f"Transfer of {name}")
            assert bar.get_attribute("value") == bar.get_attribute("max") == str(20 * MB)
            assert _moved_through(page)
        screenshot(desk, "secure-file-advisor")
        with desk.expect_download() as download:
            arriving.get_by_role("button", name=f"Save {name}").click()
        saved = Path(download.value.path())
        assert download.value.suggested_filename == name
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == original
        # Text stays on its own channel beside the file's.
        pane.get_by_label("Write securely").fill("Got it, thank you.")
        pane.get_by_role("button", name="Send securely").click()
        jane.locator(".message.secure.in .body", has_text="Got it, thank you.").wait_for()
    assert violations == []


def _slow_computer(page: Any) -> None:
    """Jane's computer at a fraction of its speed (Chrome DevTools' CPU throttling): her browser
    hands the file to the line slowly enough for the advisor to cancel it on the way."""
    page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 40})


def test_it_lets_either_side_cancel_and_both_see_it_cancelled(demo_server, tmp_path):
    name, second = f"large-{uuid.uuid4().hex[:6]}.bin", f"second-{uuid.uuid4().hex[:6]}.bin"
    file_with(tmp_path / name, 50 * MB)
    file_with(tmp_path / second, 50 * MB)
    with chromium() as browser:
        jane, _, pane = in_conversation(demo_server, browser)
        advisor_switches(jane, pane)
        _slow_computer(jane)
        share(jane, tmp_path / name)
        arriving = transfer(pane, name, arriving=True)
        arriving.get_by_text("Receiving…").wait_for(timeout=30_000)
        arriving.get_by_role("button", name=f"Cancel {name}").click()
        arriving.get_by_text("Cancelled by you.").wait_for()
        transfer(jane, name, arriving=False).get_by_text("Cancelled by the other side.").wait_for()
        assert arriving.get_by_role("button", name=f"Save {name}").is_hidden()

        share(jane, tmp_path / second)  # and from the sending side
        sending = transfer(jane, second, arriving=False)
        sending.get_by_text("Sending…").wait_for(timeout=30_000)
        sending.get_by_role("button", name=f"Cancel {second}").click()
        sending.get_by_text("Cancelled by you.").wait_for()
        transfer(pane, second, arriving=True).get_by_text("Cancelled by the other side.").wait_for()

        share(jane, tmp_path / name)  # and a return to the standard chat stops a transfer on the way
        transfer(pane, name, arriving=True).get_by_text("Receiving…").wait_for(timeout=30_000)
        pane.get_by_role("button", name="Back to standard chat").click()
        for page, arriving in ((pane, True), (jane, False)):
            stopped = "Stopped: the secure chat closed before the file was complete."
            transfer(page, name, arriving).get_by_text(stopped).wait_for()


# In Jane's browser, one byte of each chunk flipped before it goes on the line: bytes altered on
# the way (DTLS would refuse such a record; the check on arrival must not depend on it).
CORRUPT_CHUNKS = """() => {
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    if (data instanceof Uint8Array) { const copy = data.slice(); copy[0] ^= 1; return send.call(this, copy); }
    return send.call(this, data);
  };
}"""


def test_it_refuses_a_file_over_50_mb_and_shows_a_damaged_file_as_damaged(demo_server, tmp_path):
    too_big, damaged = tmp_path / "scan.pdf", tmp_path / f"photo-{uuid.uuid4().hex[:6]}.jpg"
    with too_big.open("wb") as sparse:
        sparse.truncate(51 * MB)
    damaged.write_bytes(os.urandom(MB))
    with chromium() as browser:
        jane, _, pane = in_conversation(demo_server, browser)
        advisor_switches(jane, pane)
        share(jane, too_big)
        refusal = "scan.pdf is 51.0 MB; files up to 50 MB can be shared here."
        jane.get_by_role("alert").filter(has_text=refusal).wait_for()
        assert pane.locator(".message.file").count() == 0  # nothing went

        jane.evaluate(CORRUPT_CHUNKS)
        share(jane, damaged)
        arriving = transfer(pane, damaged.name, arriving=True)
        arriving.get_by_text("Damaged in transit: its SHA-256 does not match what was sent").wait_for(timeout=30_000)
        assert arriving.get_by_role("button", name=f"Save {damaged.name}").is_hidden()
        transfer(jane, damaged.name, arriving=False).get_by_text("Arrived damaged").wait_for()
