"""Media in browser tests: tones to capture, and what a page's calls send, receive and hear."""

from __future__ import annotations

import math
import re
import struct
import time
import wave
from pathlib import Path
from typing import Any

RATE = 48_000  # what Chromium's fake capture reads: 48 kHz mono 16-bit


BIN_HZ = 44_100 / 8192  # one bin of the analyser's FFT


def tone_wav(path: Path, hz: float, seconds: float = 60.0) -> Path:
    """A sine at `hz` for Chromium's `--use-file-for-fake-audio-capture` (it loops the file)."""
    frames = b"".join(
        struct.pack("<h", int(12_000 * math.sin(2 * math.pi * hz * n / RATE))) for n in range(int(RATE * seconds))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames)
    return path


def capturing(wav: Path) -> list[str]:
    """Chromium arguments: this tone as the microphone, and audio that plays without a click."""
    return [f"--use-file-for-fake-audio-capture={wav}", "--autoplay-policy=no-user-gesture-required"]


# The frequency with the most energy in what the page's remote <audio> plays: the stream goes
# through a Web Audio AnalyserNode (the element must be playing it, muted is enough).
_PEAK = """async (selector) => {
  const element = document.querySelector(selector);
  element.muted = true;
  const settle = (promise) => Promise.race([promise.catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
  await settle(element.play());
  const context = new AudioContext();
  await settle(context.resume());
  const analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  context.createMediaStreamSource(element.srcObject).connect(analyser);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = 0;
  for (let n = 1; n < bins.length; n++) if (bins[n] > bins[best]) best = n;
  const peak = { hz: best * context.sampleRate / analyser.fftSize, db: bins[best] };
  context.close();
  return peak;
}"""


def heard(page: Any, selector: str = "audio.remote-audio") -> dict[str, float]:
    return dict(page.evaluate(_PEAK, selector))


def hears(page: Any, hz: float) -> None:
    """Until the page's remote audio peaks at `hz`, within two bins of the analyser's FFT."""

    def tone() -> dict[str, float] | None:
        peak = heard(page)
        return peak if abs(peak["hz"] - hz) <= 2 * BIN_HZ and peak["db"] > -80 else None

    until(tone, what=f"{hz} Hz heard")


def _call(page: Any, script: str) -> Any:
    """Evaluate `script` (a function of the page's one live call) in the page."""
    latest = "[...globalThis.portalCalls.values()].at(-1)"
    return page.evaluate(f"() => ({script})({latest})")


def connection_state(page: Any) -> str:
    return str(_call(page, "(call) => call.pc.connectionState"))


def inbound_audio(page: Any) -> dict[str, Any]:
    """The audio arriving: its codec and how many bytes so far (getStats)."""
    script = """async (call) => {
      const reports = [...(await call.pc.getStats()).values()];
      const inbound = reports.find((r) => r.type === "inbound-rtp" && r.kind === "audio");
      const codec = inbound && reports.find((r) => r.id === inbound.codecId);
      return { codec: codec ? codec.mimeType : "", bytes: inbound ? inbound.bytesReceived : 0 };
    }"""
    return dict(_call(page, script))


def fingerprints(page: Any) -> tuple[str, str]:
    """The DTLS fingerprint in the page's own description and in the one it received."""
    sdps = _call(page, "(call) => [call.pc.localDescription.sdp, call.pc.remoteDescription.sdp]")
    own, received = (re.search(r"a=fingerprint:(\S+ \S+)", sdp) for sdp in sdps)
    assert own is not None
    assert received is not None
    return own[1], received[1]


def remote_description(page: Any) -> str:
    return str(_call(page, "(call) => call.pc.remoteDescription?.sdp || ''"))


def directions(page: Any) -> list[str]:
    return list(_call(page, "(call) => call.pc.getTransceivers().map((t) => `${t.mid}:${t.currentDirection}`)"))


def until(condition: Any, timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what or condition}")
