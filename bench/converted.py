"""Answer to audio heard in a converted call: a G.711 phone (sipp, plain RTP, PCMU) calls Mary's
browser, which answers; rtpengine converts PCMU to Opus over ICE and DTLS-SRTP. The portal runs in
its production shape (PostgreSQL, Redis, daphne, `run_ims`, Kamailio as the core), Mary answers
on her page as she would (its Answer button). The clock is her page's Date.now() from the moment
she answers to the first audio bytes in her getStats."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.common import scratch_database
from bench.page_clock import ANSWER, WATCH_AUDIO
from tests.support.browser import chromium
from tests.support.identity_page import identity_page
from tests.support.media import capturing, tone_wav, until
from tests.support.parts import Portal
from tests.support.phone import finished, free_udp_range, phone, rtpengine, tone_pcap
from tests.support.services import free_port

ROUNDS = 10
TALK_MS = 1500  # the phone hangs up this long after the answer: time enough for the audio


def _one_call(page: Any, portal: Portal, workdir: Path, pcap: Path, user: str, domain: str) -> float:
    calling = phone(
        "call_and_play", core_port=portal.core.udp, sip_port=free_port(), media_port=free_udp_range(4)[0],
        workdir=workdir, pcap=pcap, talk_ms=TALK_MS, service=user, fields=[domain, "", "phone"],
    )  # fmt: skip
    page.get_by_role("button", name="Answer").wait_for(timeout=20_000)
    page.evaluate(WATCH_AUDIO)
    answered = page.evaluate(ANSWER)
    page.wait_for_function("window.audioAt !== null", timeout=20_000)
    delay = float(page.evaluate("window.audioAt") - answered)
    bubble = page.locator(".call-bubble").last
    until(lambda: "converted" in bubble.inner_text() or "passed through" in bubble.inner_text(), 10, "the media path")
    if "converted" not in bubble.inner_text():
        raise RuntimeError(f"the call was not converted: {bubble.inner_text()}")
    finished(calling, workdir)
    page.locator(".call-status", has_text="The other side hung up.").wait_for(timeout=10_000)
    return delay


def answer_to_audio() -> list[float]:
    """ROUNDS converted calls from the phone to Mary's browser, each answered and hung up by the phone."""
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as database:
        workdir = Path(tmp)
        gateway = rtpengine(workdir)
        try:
            with Portal(workdir, database, IMS_RTPENGINE_NG=":".join(map(str, gateway.address))) as portal:
                wav = tone_wav(workdir / "browser.wav", 440.0, seconds=10)
                pcap = tone_pcap(workdir / "phone.pcap", 1000.0, seconds=5)
                with chromium(*capturing(wav), "--allow-loopback-in-peer-connection") as browser:
                    page = identity_page(browser, portal, "mary", "mary-demo")
                    user, domain = page.locator("#impu").inner_text().removeprefix("sip:").split("@")
                    return [_one_call(page, portal, workdir, pcap, user, domain) for _ in range(ROUNDS)]
        finally:
            gateway.stop()
