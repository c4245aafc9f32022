"""Files over the secure chat line beside a bare RTCDataChannel, between the same two Chromium pages
in the same run: Jane's help page and the advisor's desk on the demo, the secure line open between
them. Secure: Jane shares a 20 MB file as a person does (the "Share a file" chooser), from her
choice (her page's Date.now(); reading the file and its SHA-256 included) to the desk's check on
arrival done (the desk's clock; joining the chunks and its SHA-256 included). Bare: a second
RTCPeerConnection between the two pages, set up by the benchmark, one data channel, the same 20 MB
from memory in the same chunks under the same flow control, nothing hashed: from the first send to
the last byte's arrival. Rounds alternate the two after one that warms both up; medians."""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Result, check
from tests.support.browser import chromium
from tests.support.helpdesk_browser import in_conversation
from tests.support.processes import demo_portal
from tests.support.secure_line import advisor_switches, share, transfer

ROUNDS = 9
SIZE = 20 * 1024 * 1024

# Either page: a data channel of its own to the other page, outside the portal. Returns its
# description once gathered (no trickle: the benchmark carries it whole).
BARE_PEER = """async ([offer]) => {
  const pc = new RTCPeerConnection();
  window.bare = pc.createDataChannel("bare", { negotiated: true, id: 0, ordered: true });
  window.bare.binaryType = "arraybuffer";
  window.bareOpen = new Promise((resolve) => window.bare.addEventListener("open", resolve));
  window.barePc = pc;
  if (offer) await pc.setRemoteDescription({ type: "offer", sdp: offer });
  await pc.setLocalDescription(offer ? await pc.createAnswer() : await pc.createOffer());
  if (pc.iceGatheringState !== "complete") {
    await new Promise((resolve) => pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && resolve()));
  }
  return pc.localDescription.sdp;
}"""
BARE_ANSWERED = "async (sdp) => { await barePc.setRemoteDescription({ type: 'answer', sdp }); await bareOpen; }"
# The receiving page: when the last of `size` bytes arrived.
BARE_RECEIVE = """(size) => {
  let got = 0;
  window.bareArrived = new Promise((resolve) => {
    bare.onmessage = ({ data }) => { got += data.byteLength; if (got >= size) resolve(Date.now()); };
  });
}"""
# The sending page: `size` random bytes in secure_files.js's chunks under its flow control; returns
# when it started sending.
BARE_SEND = """async (size) => {
  const CHUNK = 64 * 1024, HIGH = 4 * 1024 * 1024, LOW = 1024 * 1024;
  const data = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(data.subarray(at, at + 65536));
  bare.bufferedAmountLowThreshold = LOW;
  const started = Date.now();
  for (let offset = 0; offset < size; offset += CHUNK) {
    if (bare.bufferedAmount > HIGH) await new Promise((resolve) => { bare.onbufferedamountlow = resolve; });
    bare.send(data.subarray(offset, offset + CHUNK));
  }
  return started;
}"""
TRANSFER_TIME = "(name) => [...portalSecureLine.files.transfers.values()].find((t) => t.name === name)?.{}"


def _bare_channel(jane: Any, desk: Any) -> None:
    offer = jane.evaluate(BARE_PEER, [None])
    answer = desk.evaluate(BARE_PEER, [offer])
    jane.evaluate(BARE_ANSWERED, answer)
    desk.wait_for_function("window.bare.readyState === 'open'")


def _megabits_a_second(started_ms: float, ended_ms: float) -> float:
    return SIZE * 8 / 1e6 / ((ended_ms - started_ms) / 1000)


def _bare_rate(jane: Any, desk: Any) -> float:
    desk.evaluate(BARE_RECEIVE, SIZE)
    started = jane.evaluate(BARE_SEND, SIZE)
    return _megabits_a_second(started, desk.evaluate("bareArrived"))


def _secure_rate(jane: Any, desk: Any, pane: Any, path: Path) -> float:
    share(jane, path)
    arrival = transfer(pane, path.name, arriving=True)
    arrival.get_by_text("Arrived intact").wait_for(timeout=120_000)
    started = jane.evaluate(TRANSFER_TIME.format("startedAt"), path.name)
    checked = desk.evaluate(TRANSFER_TIME.format("finishedAt"), path.name)
    check(bool(started and checked), f"no times for {path.name}: {started}, {checked}")
    return _megabits_a_second(started, checked)


def _measure(workdir: Path) -> tuple[list[float], list[float]]:
    secure, bare = [], []
    with demo_portal(workdir) as base, chromium() as browser:
        jane, desk, pane = in_conversation(base, browser)
        advisor_switches(jane, pane)
        _bare_channel(jane, desk)
        for round_ in range(-1, ROUNDS):  # round -1 warms both paths up and counts for nothing
            path = workdir / f"figures-{round_}.bin"
            path.write_bytes(os.urandom(SIZE))
            rates = _bare_rate(jane, desk), _secure_rate(jane, desk, pane, path)
            print(f"files: round {round_ + 1}, bare {rates[0]:.0f}, secure {rates[1]:.0f} Mbit/s", flush=True)
            if round_ >= 0:
                bare.append(rates[0])
                secure.append(rates[1])
    return secure, bare


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        secure, bare = _measure(Path(tmp))
    name = "secure chat files (Chromium, demo)"
    metric = f"20 MB file over the secure line, median of {ROUNDS}"
    result = Result(name, metric, statistics.median(secure), "Mbit/s", "bare data channel", statistics.median(bare))
    result.samples, result.target = secure, "ratio >= 0.8"
    return [result]
