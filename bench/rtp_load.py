"""How many converted calls rtpengine carries at once on this machine with under 1 % loss.

Each call is set up as the IMS side sets up a converted call (ims.media's flags toward the IMS, the
NG client of ims/rtpengine.py): the browser's leg offers Opus, the phone's leg answers PCMU, and
rtpengine transcodes both ways. The browser's leg is plain RTP here (no ICE, no DTLS-SRTP: the
load generator is not a browser), so what is measured is the transcoding and forwarding. Each leg
sends a packet every 20 ms: PCMU of a tone from the phone's side, Opus from the browser's side
(frames rtpengine itself encoded from that tone, replayed). Loss is what did not arrive at the
other leg during a window, per direction; the number of calls doubles until a step loses 1 % or
more, then is bisected twice."""

from __future__ import annotations

import asyncio
import re
import selectors
import socket
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.common import Result
from bench.procs import cpu_seconds
from ims.gateway import RtpEngineProcess
from ims.media import FLAGS
from ims.rtpengine import RtpEngine
from tests.support.phone import PACKET_SAMPLES, PCMU_RATE, free_udp_port, free_udp_range, ulaw_encode
from tests.support.services import require_binary

FIRST = 25
MOST = 800  # the ramp stops here: more than this machine could carry
# Seconds: sent before the window, the window counted, and how late a packet may come (a jitter
# buffer's allowance) and still count.
WARM, WINDOW, GRACE = 2.0, 10.0, 0.06
TICK = 0.02
LOSS = 0.01
BROWSER_PT, PHONE_PT = 111, 0
# The browser's answer leg as plain RTP: ims.media's flags toward the browser but for its transport.
TO_BROWSER = {**FLAGS[("browser", False)], "transport-protocol": "RTP/AVP", "ICE": "remove", "DTLS": "off"}
TO_BROWSER["rtcp-mux"] = ["demux"]


def gateway(workdir: Path, ports: int) -> RtpEngineProcess:
    """rtpengine as the tests run it, with `ports` media ports (four a call: RTP and RTCP each side)."""
    process = RtpEngineProcess(workdir, free_udp_port(), free_udp_range(ports), delete_delay=0)
    return process.start(require_binary("rtpengine"))


def _sdp(port: int, pt: int, codec: str) -> str:
    lines = ["v=0", f"o=- {port} 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0"]
    lines += [f"m=audio {port} RTP/AVP {pt}", f"a=rtpmap:{pt} {codec}", "a=ptime:20", "a=sendrecv", ""]
    return "\r\n".join(lines)


def _port(sdp: str) -> int:
    found = re.search(r"^m=audio (\d+) ", sdp, flags=re.MULTILINE)
    assert found is not None, sdp
    return int(found[1])


@dataclass
class Leg:
    """One side of a call in the load generator: its socket and where rtpengine listens for it."""

    sock: socket.socket
    frames: list[bytes] = field(default_factory=list)
    pt: int = 0  # its codec, both ways: what it receives is converted from the other leg's
    to: int = 0  # rtpengine's port for it
    sent: int = 0
    received: int = 0


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


async def _set_up(ng: RtpEngine, key: str, browser: Leg, phone: Leg) -> None:
    """The browser offers Opus; the phone answers PCMU; each learns rtpengine's port for it."""
    offer = _sdp(browser.sock.getsockname()[1], BROWSER_PT, "opus/48000/2")
    offered = await ng.offer(key, "browser", offer, **FLAGS[("ims", True)])
    phone.to = _port(offered)
    answer = _sdp(phone.sock.getsockname()[1], PHONE_PT, "PCMU/8000")
    browser.to = _port(await ng.answer(key, "browser", "ims", answer, **TO_BROWSER))


def _tone_frames(seconds: float = 1.0) -> list[bytes]:
    n = np.arange(int(PCMU_RATE * seconds))
    payload = ulaw_encode(12_000 * np.sin(2 * np.pi * 1000 * n / PCMU_RATE))
    return [payload[i : i + PACKET_SAMPLES] for i in range(0, len(payload), PACKET_SAMPLES)]


def _packet(leg: Leg, ssrc: int) -> bytes:
    samples = PACKET_SAMPLES if leg.pt == PHONE_PT else 960
    header = struct.pack("!BBHII", 0x80, leg.pt, leg.sent & 0xFFFF, (leg.sent * samples) & 0xFFFFFFFF, ssrc)
    return header + leg.frames[leg.sent % len(leg.frames)]


def _drain(selector: selectors.BaseSelector, timeout: float, keep: list[bytes] | None) -> None:
    for key, _ in selector.select(timeout):
        leg: Leg = key.data
        while True:
            try:
                data = leg.sock.recv(2048)
            except BlockingIOError:
                break
            if len(data) > 12 and data[1] & 0x7F == leg.pt:  # RTP in its codec (not RTCP, not unconverted)
                leg.received += 1
                if keep is not None:
                    keep.append(data[12:])


def _stream(
    senders: list[Leg], receivers: list[Leg], seconds: float, keep: list[bytes] | None = None,
    mark: Callable[[int], None] = lambda tick: None,
) -> float:  # fmt: skip
    """Each sender sends a packet every TICK for `seconds` while the receivers count what arrives;
    `mark(tick)` before each tick. The time meant over the time taken (1.0: the generator kept up)."""
    selector = selectors.DefaultSelector()
    for leg in receivers:
        selector.register(leg.sock, selectors.EVENT_READ, leg)
    start, ticks = time.perf_counter(), round(seconds / TICK)
    for tick in range(ticks + 1):
        mark(tick)
        if tick == ticks:
            break
        for ssrc, leg in enumerate(senders, 1):
            leg.sock.sendto(_packet(leg, ssrc), ("127.0.0.1", leg.to))
            leg.sent += 1
        left = start + (tick + 1) * TICK - time.perf_counter()
        while left > 0:
            _drain(selector, left, keep)
            left = start + (tick + 1) * TICK - time.perf_counter()
    selector.close()
    return ticks * TICK / (time.perf_counter() - start)


async def _calls(address: tuple[str, int], count: int, opus: list[bytes], tag: str) -> list[tuple[Leg, Leg]]:
    pcmu, ng = _tone_frames(), RtpEngine(*address, timeout=5.0, attempts=3)
    calls = [(Leg(_socket(), opus, BROWSER_PT), Leg(_socket(), pcmu, PHONE_PT)) for _ in range(count)]
    try:
        await asyncio.gather(*(_set_up(ng, f"{tag}-{n}", *legs) for n, legs in enumerate(calls)))
    finally:
        ng.close()
    return calls


async def _hang_up(address: tuple[str, int], calls: list[tuple[Leg, Leg]], tag: str) -> None:
    ng = RtpEngine(*address, timeout=5.0, attempts=3)
    try:
        await asyncio.gather(*(ng.delete(f"{tag}-{n}") for n in range(len(calls))))
    finally:
        ng.close()
    for legs in calls:
        for leg in legs:
            leg.sock.close()


def _opus_frames(address: tuple[str, int]) -> list[bytes]:
    """Opus as rtpengine encodes it from the phone's tone: what the browsers' legs then replay.
    The phone alone talks for a second; what reaches the browser's socket is rtpengine's Opus."""
    calls = asyncio.run(_calls(address, 1, [], "opus"))
    frames: list[bytes] = []
    browser, phone = calls[0]
    _stream([phone], [browser], 1.2, frames)
    _stream([], [browser], 0.1, frames)  # the last on their way
    asyncio.run(_hang_up(address, calls, "opus"))
    if len(frames) < 25:
        raise RuntimeError(f"rtpengine sent {len(frames)} Opus frames for 60 PCMU packets")
    return frames


@dataclass
class Step:
    calls: int
    to_phone: float  # loss, browser to phone (Opus decoded, PCMU encoded)
    to_browser: float  # loss, phone to browser (PCMU decoded, Opus encoded)
    kept: float  # the share of its rate the load generator kept
    cpu: float  # rtpengine's CPU seconds per call-second

    @property
    def held(self) -> bool:
        return max(self.to_phone, self.to_browser) < LOSS and self.kept >= 0.95


def _cpu(engine: RtpEngineProcess) -> float:
    assert engine.process is not None
    return cpu_seconds([engine.process.pid])


def _loss(sent: int, received: int) -> float:
    """A backlog from before the window that arrives in it makes no negative loss."""
    return max(0.0, 1 - received / sent) if sent else 1.0


def _step(engine: RtpEngineProcess, count: int, opus: list[bytes]) -> Step:
    """WARM seconds, then WINDOW counted, sending on throughout: what arrived in the window, shifted
    by GRACE, of what was sent in it. A packet later than GRACE at the window's end counts as lost,
    as a jitter buffer would drop it: a backlog growing in rtpengine shows as loss."""
    tag = f"load{count}"
    calls = asyncio.run(_calls(engine.address, count, opus, tag))
    legs = [b for b, _ in calls] + [p for _, p in calls]
    first, last, shift = round(WARM / TICK), round((WARM + WINDOW) / TICK), round(GRACE / TICK)
    sends: list[list[int]] = []
    arrivals: list[list[int]] = []
    cpu: list[float] = []
    generator: list[float] = []

    def mark(tick: int) -> None:
        if tick in (first, last):
            sends.append([leg.sent for leg in legs])
            cpu.append(_cpu(engine))
            generator.append(time.process_time())
        if tick in (first + shift, last + shift):
            arrivals.append([leg.received for leg in legs])

    try:
        kept = _stream(legs, legs, WARM + WINDOW + GRACE, mark=mark)
    finally:
        asyncio.run(_hang_up(engine.address, calls, tag))
    sent = [b - a for a, b in zip(*sends, strict=True)]
    received = [b - a for a, b in zip(*arrivals, strict=True)]
    to_phone = _loss(sum(sent[:count]), sum(received[count:]))
    to_browser = _loss(sum(sent[count:]), sum(received[:count]))
    step = Step(count, to_phone, to_browser, kept, (cpu[1] - cpu[0]) / WINDOW / count)
    own = (generator[1] - generator[0]) / WINDOW / count
    print(f"calls: {count} converted at once: loss {100 * to_phone:.2f} % to the phones, {100 * to_browser:.2f} % "
          f"to the browsers; generator at {100 * kept:.0f} % of its rate; a call costs rtpengine "
          f"{100 * step.cpu:.2f} % of a core, the generator {100 * own:.2f} %", flush=True)  # fmt: skip
    return step


def _ramp(engine: RtpEngineProcess, opus: list[bytes]) -> tuple[Step | None, Step | None]:
    """(the largest step held, the smallest that was not): doubling, then two bisections."""
    held: Step | None = None
    failed: Step | None = None
    count = FIRST
    while count <= MOST and failed is None:
        step = _step(engine, count, opus)
        held, failed = (step, None) if step.held else (held, step)
        count *= 2
    for _ in range(2):
        if failed is None:
            break
        low = held.calls if held else 0
        middle = (low + failed.calls) // 2
        if middle <= low:
            break
        step = _step(engine, middle, opus)
        held, failed = (step, failed) if step.held else (held, step)
    return held, failed


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = gateway(Path(tmp), 4 * MOST + 100)
        try:
            held, failed = _ramp(engine, _opus_frames(engine.address))
        finally:
            engine.stop()
    name = "rtpengine, converted calls (Opus <-> PCMU, userspace)"
    count = held.calls if held else 0
    results = [Result(name, "calls at once with < 1 % loss each way", count, "calls")]
    if held:
        loss = 100 * max(held.to_phone, held.to_browser)
        results.append(Result(name, f"rtpengine CPU per call at {count} (loss {loss:.2f} %)", 100 * held.cpu, "% core"))
    if failed:
        loss = 100 * max(failed.to_phone, failed.to_browser)
        generator = "" if failed.kept >= 0.95 else f", generator kept {100 * failed.kept:.0f} %"
        results.append(Result(name, f"loss at {failed.calls} calls{generator}", loss, "%"))
    return results
