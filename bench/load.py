"""The chat load generator: many pairs of WebSocket clients (the `websockets` package, not the
code under test) exchanging messages at a set rate, and the search for the highest rate a server
holds with p99 under a bound.

Each message is sent on one socket of a pair and counted when the other socket receives it;
latency runs from the send to that receipt. A message the server also echoes to its sender (the
portal does, with its sequence number) is not counted there."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.typing import Origin

from bench.common import percentile

# Which message (by key) a received frame carries, or None for frames that carry none.
Reader = Callable[[str | bytes], str | None]
# The frame that carries message `key`.
Writer = Callable[[str], str]
# What else happened between two times (time.perf_counter) that a step's summary should say.
Note = Callable[[float, float], str]

CONNECT_AT_ONCE = 50
RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0)
DRAIN_SECONDS = 10.0
NEAR_MISS = 2.0  # a failed step with p99 under twice the bound is measured again (Step.near_miss)
BISECTIONS = 3  # the doubling's factor of 2 becomes 2 ** (1 / 8): 1.09


@dataclass
class End:
    socket: Any
    write: Writer


@dataclass
class Step:
    offered: float  # messages per second
    sent: int
    delivered: int
    seconds: float  # from the first send to the last receipt
    latencies: list[float] = field(repr=False, default_factory=list)
    note: str = ""

    @property
    def lost(self) -> int:
        return self.sent - self.delivered

    def percentile(self, share: float) -> float:
        """Milliseconds; a message that never arrived counts as infinitely late."""
        if not self.sent:
            return 0.0
        ordered = sorted(self.latencies) + [float("inf")] * self.lost
        return 1000 * percentile(ordered, share)

    @property
    def p50(self) -> float:
        return self.percentile(0.5)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def holds(self, bound_ms: float) -> bool:
        return self.lost == 0 and self.p99 < bound_ms

    def near_miss(self, bound_ms: float) -> bool:
        """Failed, but by less than the bound again and with nothing lost: one pause of one
        process (a collection, the machine's) in 4 s can do that to a rate that otherwise holds."""
        return self.lost == 0 and bound_ms <= self.p99 < NEAR_MISS * bound_ms

    def and_then(self, later: Step) -> Step:
        """This step and a later one at the same rate, as one measurement twice as long."""
        return Step(
            self.offered, self.sent + later.sent, self.delivered + later.delivered, self.seconds + later.seconds,
            self.latencies + later.latencies, "; ".join(n for n in (self.note, later.note) if n),
        )  # fmt: skip

    def summary(self) -> str:
        return (
            f"{self.offered:7.0f}/s offered: {self.delivered}/{self.sent} delivered, "
            f"p50 {self.p50:.0f} ms, p99 {self.p99:.0f} ms, {self.rate:.0f}/s"
        ) + (f" ({self.note})" if self.note else "")


async def connect(url: str, origin: str, cookie: str = "") -> Any:
    """A handshake the server dropped is tried again after a pause, as the browser client
    (static/js/socket.js) reconnects with backoff; a refusal (4xx) is not, nor one that keeps failing."""
    headers = {"Cookie": cookie} if cookie else {}
    for pause in RETRY_PAUSES:
        try:
            return await _handshake(url, origin, headers)
        except (InvalidMessage, InvalidStatus, OSError, TimeoutError) as error:
            if isinstance(error, InvalidStatus) and error.response.status_code < 500:
                raise
            handshakes.retried += 1
            await asyncio.sleep(pause)
    return await _handshake(url, origin, headers)  # the last try: its error is the benchmark's


async def _handshake(url: str, origin: str, headers: dict[str, str]) -> Any:
    # max_queue=None: a slow reader here must not push back on the server and skew its figures.
    return await websockets.connect(
        url, origin=Origin(origin), additional_headers=headers, max_queue=None, open_timeout=60, ping_interval=None
    )


@dataclass
class Handshakes:
    retried: int = 0  # dropped by the server and tried again (daphne drops one not accepted within 5 s)


handshakes = Handshakes()


async def connect_all(targets: list[tuple[str, str, str]]) -> list[Any]:
    """(url, origin, cookie) each, a bounded number at a time: a burst of thousands of handshakes
    measures the accept queue, not the server."""
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def one(target: tuple[str, str, str]) -> Any:
        async with gate:
            return await connect(*target)

    return list(await asyncio.gather(*(one(t) for t in targets)))


class Traffic:
    """Pairs of ends; every end is read all the time, sends follow a schedule."""

    def __init__(self, pairs: list[tuple[End, End]], read: Reader) -> None:
        self.pairs, self.read = pairs, read
        self.waiting: dict[str, tuple[float, int]] = {}  # key: (sent at, id of the receiving socket)
        self.latencies: list[float] = []
        self.last_receipt = 0.0
        self.delivered = 0  # over every step
        self.note: Note | None = None
        self.readers = [asyncio.create_task(self._listen(end.socket)) for pair in pairs for end in pair]

    async def _listen(self, socket: Any) -> None:
        me = id(socket)
        try:
            async for frame in socket:
                key = self.read(frame)
                if key is not None and self.waiting.get(key, (0.0, 0))[1] == me:
                    now = time.perf_counter()
                    self.latencies.append(now - self.waiting.pop(key)[0])
                    self.last_receipt = now
                    self.delivered += 1
        except websockets.ConnectionClosed:
            return

    async def step(self, rate: float, seconds: float) -> Step:
        """Send `rate` messages a second for `seconds`, each from the next pair in turn, the two
        directions alternating; then wait for the stragglers."""
        self.latencies, self.waiting = [], {}
        count = max(1, int(rate * seconds))
        senders = itertools.cycle(
            [(a, b) for a, b in self.pairs] + [(b, a) for a, b in self.pairs]
        )  # each conversation talks both ways
        started = time.perf_counter()
        for n in range(count):
            due = started + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            source, target = next(senders)
            key = uuid.uuid4().hex
            self.waiting[key] = (time.perf_counter(), id(target.socket))
            await source.socket.send(source.write(key))
        deadline = time.perf_counter() + DRAIN_SECONDS
        while self.waiting and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        end = self.last_receipt if not self.waiting else time.perf_counter()
        note = self.note(started, end) if self.note else ""
        return Step(rate, count, len(self.latencies), max(end - started, 1e-9), self.latencies, note)

    async def settle(self, seconds: float = 1.0) -> None:
        """Let a backlog from an overloaded step clear before the next."""
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*(end.socket.close() for pair in self.pairs for end in pair), return_exceptions=True)


async def saturate(
    traffic: Traffic, start: float, bound_ms: float = 100.0, seconds: float = 4.0, log: Callable[[str], None] = print
) -> tuple[Step | None, list[Step]]:
    """The highest rate whose p99 stays under `bound_ms` with nothing lost: doubling from `start`
    until a step fails, then three bisections (geometric) between the last that held and the first that
    failed, so the figure is known to within 9 %. A step that misses narrowly is measured as long
    again and decided on both: a single 4 s p99 put the IMS path's figure at 734 or 951 msg/s,
    and the relay's at 917 or 1,414, in runs an hour apart on the same code.
    Returns the best step that held (None if even `start` failed) and every step run."""
    steps: list[Step] = []

    async def run(rate: float) -> Step:
        step = await traffic.step(rate, seconds)
        log(step.summary())
        if step.near_miss(bound_ms):  # decided on twice the traffic, not on one pause
            await traffic.settle(2.0)
            step = step.and_then(await traffic.step(rate, seconds))
            log(f"{step.summary()} (measured {2 * seconds:.0f} s: the first {seconds:.0f} s missed narrowly)")
        steps.append(step)
        await traffic.settle(2.0 if not step.holds(bound_ms) else 0.5)
        return step

    best: Step | None = None
    rate = start
    while True:
        step = await run(rate)
        if not step.holds(bound_ms):
            break
        best, rate = step, rate * 2
    low, high = (best.offered if best else start / 2), rate
    for _ in range(BISECTIONS):
        middle = (low * high) ** 0.5
        step = await run(middle)
        if step.holds(bound_ms):
            best, low = step, middle
        else:
            high = middle
    return best, steps
