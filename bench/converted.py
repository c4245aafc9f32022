"""Answer to audio heard in a converted call: a G.711 phone (sipp, plain RTP, PCMU) calls Mary's
browser, which answers; rtpengine converts PCMU to Opus over ICE and DTLS-SRTP. The portal runs in
its production shape (PostgreSQL, Redis, daphne, `run_ims`, Kamailio as the core), Mary's page is
a browser client of /ws/client/ (tests/support/phone_call.js). The clock is her page's Date.now()
from the moment she answers to the first audio bytes in her getStats."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.common import scratch_database
from tests.support.browser import chromium
from tests.support.identity_page import identity_page
from tests.support.media import capturing, tone_wav, until
from tests.support.parts import Portal
from tests.support.phone import finished, free_udp_range, phone, rtpengine, tone_pcap
from tests.support.services import free_port

ROUNDS = 10
TALK_MS = 1500  # the phone hangs up this long after the answer: time enough for the audio
FRESH = """() => {
  const call = phoneCall.call;
  if (call.pc) call.pc.close();
  Object.assign(call, { pc: null, incoming: null, key: null, analyser: null });
}"""
# The moment audio of the call first arrives (getStats, every 10 ms), once answer() made its pc.
WATCH_AUDIO = """() => {
  window.audioAt = null;
  const poll = setInterval(async () => {
    const pc = phoneCall.call.pc;
    if (!pc) return;
    for (const report of (await pc.getStats()).values()) {
      if (report.type === "inbound-rtp" && report.kind === "audio" && report.bytesReceived > 0) {
        window.audioAt = Date.now();
        clearInterval(poll);
      }
    }
  }, 10);
}"""
ANSWER = "() => { const at = Date.now(); phoneCall.answer(); return at; }"


def _one_call(page: Any, portal: Portal, workdir: Path, pcap: Path, user: str, domain: str) -> float:
    page.evaluate(FRESH)
    calling = phone(
        "call_and_play", core_port=portal.core.udp, sip_port=free_port(), media_port=free_udp_range(4)[0],
        workdir=workdir, pcap=pcap, talk_ms=TALK_MS, service=user, fields=[domain, "", "phone"],
    )  # fmt: skip
    until(lambda: page.evaluate("phoneCall.call.incoming"), 20, "the browser ringing")
    page.evaluate(WATCH_AUDIO)
    answered = page.evaluate(ANSWER)
    page.wait_for_function("window.audioAt !== null", timeout=20_000)
    delay = float(page.evaluate("window.audioAt") - answered)
    connected = until(lambda: page.evaluate("phoneCall.state('connected')"), 10, "the call connected")
    if connected.get("media") != "converted":
        raise RuntimeError(f"the call was not converted: {connected}")
    finished(calling, workdir)
    until(lambda: page.evaluate("phoneCall.state('ended')"), 10, "the call ended")
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
                    page = identity_page(browser, portal, "mary", "mary-pass-123")
                    user, domain = page.locator("#impu").inner_text().removeprefix("sip:").split("@")
                    page.evaluate("phoneCall.listenForCalls()")
                    return [_one_call(page, portal, workdir, pcap, user, domain) for _ in range(ROUNDS)]
        finally:
            gateway.stop()
