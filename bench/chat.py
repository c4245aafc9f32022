"""Chat at scale on the production shape: daphne processes on the Redis pub/sub layer, PostgreSQL,
Kamailio as the IMS core, `manage.py run_ims` as the IMS side. For the portal's chat over the IMS,
the portal's direct chat and a bare Channels relay, each on a fresh server: the highest rate at
which p99 stays under 100 ms with nothing lost (every portal message stored and numbered), and
memory per open socket. Then scale-out: one fixed load on one and on two processes (the two
sockets of a conversation on different ones), as messages per CPU-second of the portal's own
processes."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import chat_setup, common, load, procs
from bench.chat_setup import Conversation
from bench.commits import CommitWatch
from bench.common import Result
from portal.runtime import tune_gc
from tests.support.kamailio import Kamailio
from tests.support.processes import manage, portal_env, python, running
from tests.support.services import free_port, wait_for_http

CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", "1000"))
# Also measure the IMS path with commits that do not wait for the disk (bench.commits): what the
# code holds apart from this machine's flushes. Off by default: it adds two minutes.
UNFLUSHED = os.environ.get("BENCH_UNFLUSHED", "") not in ("", "0", "false")
BOUND_MS = 100.0
FIXED_SECONDS = 8.0
WARM_RATE = 100.0


def log(line: str) -> None:
    print(f"  chat: {line}", flush=True)


@dataclass
class Servers:
    bases: list[str]  # one per ASGI process
    pids: list[int]  # every process of the portal's: ASGI and IMS side


@contextmanager
def servers(workdir: Path, asgi: int, ims: int, over_ims: bool) -> Iterator[Servers]:
    env = portal_env(
        DATABASE_URL=os.environ["DATABASE_URL"], REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        CHANNELS_PREFIX="bench" + uuid.uuid4().hex[:6], DEBUG="false", SECRET_KEY="bench-" + "k" * 60,
        ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false", RELAY_BASELINE="true", IMS_STANDIN="false",
        HELP_CHAT_OVER_IMS="true" if over_ims else "false", LOG_LEVEL="warning", IMS_SHARD_COUNT=str(max(ims, 1)),
    )  # fmt: skip
    with ExitStack() as stack:
        bases, pids = [], []
        for n in range(ims):
            argv = manage("run_ims")
            process = stack.enter_context(running(argv, env | {"IMS_SHARD_INDEX": str(n)}, workdir / f"ims-{n}.log"))
            pids.append(process.pid)
        for _ in range(asgi):
            port = free_port()
            argv = python("-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application")
            process = stack.enter_context(running(argv, env, workdir / f"asgi-{port}.log"))
            base = f"http://127.0.0.1:{port}"
            wait_for_http(base + "/healthz", alive=process, timeout=60)
            bases.append(base)
            pids.append(process.pid)
        yield Servers(bases, pids)


def _ws(base: str, path: str) -> str:
    return base.replace("http", "ws", 1) + path


async def _relay_traffic(bases: list[str]) -> load.Traffic:
    a, b = bases[0], bases[-1]
    targets = [(_ws(base, f"/ws/relay/r{n}/"), base, "") for n in range(CONVERSATIONS) for base in (a, b)]
    sockets = await load.connect_all(targets)
    ends = [load.End(socket, lambda key: key) for socket in sockets]
    return load.Traffic(list(zip(ends[::2], ends[1::2], strict=True)), lambda frame: str(frame))


def _read_portal(frame: str | bytes) -> str | None:
    event = json.loads(frame)
    message = event.get("message") or {}
    return message.get("client_id") if event.get("type") == "chat.message" and message.get("seq") else None


def _writer(request_id: int | None) -> load.Writer:
    def write(key: str) -> str:
        frame = {"type": "chat.send", "client_id": key, "body": f"About my figures, {key[:6]}"}
        return json.dumps(frame if request_id is None else frame | {"request": request_id})

    return write


async def _portal_traffic(bases: list[str], conversations: list[Conversation]) -> load.Traffic:
    a, b = bases[0], bases[-1]
    targets = []
    for c in conversations:
        targets.append((_ws(a, f"/ws/help/{c.request_id}/"), a, c.customer_cookie))
        targets.append((_ws(b, "/ws/desk/"), b, c.advisor_cookie))
    sockets = await load.connect_all(targets)
    pairs = [
        (load.End(sockets[2 * n], _writer(None)), load.End(sockets[2 * n + 1], _writer(c.request_id)))
        for n, c in enumerate(conversations)
    ]
    return load.Traffic(pairs, _read_portal)


Make = Callable[[list[str]], Awaitable[load.Traffic]]


@dataclass
class Saturation:
    best: load.Step | None
    peak: float  # the highest delivered rate of any step
    socket_bytes: float
    steps: list[load.Step]


@dataclass
class Measured:
    saturation: Saturation | None
    per_cpu_second: float  # messages delivered per CPU-second at the fixed rate
    delivered: int


async def _warm(traffic: load.Traffic) -> None:
    """A message in every conversation before measuring, for every path alike: a desk that has
    been serving, not one that just took 2,000 sockets at once. A server's first minute after
    such a rush holds its longest garbage collections (the sockets' objects, promoted to the
    oldest generation: 60 to 320 ms in daphne, 100 to 140 ms in the IMS side while it registers
    its identities), and one such pause fails a 4 s step (seen over the IMS at 100 msg/s: p50
    7 ms, p99 169 ms)."""
    step = await traffic.step(WARM_RATE, len(traffic.pairs) / WARM_RATE)
    log(f"warm-up, one message a conversation: {step.summary()}")
    await traffic.settle(2.0)


async def _measure(run: Servers, make: Make, start: float | None, fixed: float | None, watch: CommitWatch) -> Measured:
    """On one set of sockets (reconnecting thousands at once measures the handshakes): the
    saturation search from `start`, then the fixed rate (by default half the rate that held).
    Each step says the slowest commit meanwhile (bench.commits)."""
    before = procs.rss_bytes(run.pids)
    retried, opening = load.handshakes.retried, time.monotonic()
    traffic = await make(run.bases)
    traffic.note = watch.note
    retried = load.handshakes.retried - retried
    log(f"{2 * len(traffic.pairs)} sockets open in {time.monotonic() - opening:.1f} s ({retried} handshakes retried)")
    tune_gc()  # the load generator's own full collections would show as the servers' latency
    await asyncio.sleep(2)
    per_socket = (procs.rss_bytes(run.pids) - before) / (2 * len(traffic.pairs))
    await _warm(traffic)
    saturation = None
    if start is not None:
        best, steps = await load.saturate(traffic, start, BOUND_MS, log=log)
        saturation = Saturation(best, max(step.rate for step in steps), per_socket, steps)
        fixed = fixed or max(10.0, 0.5 * (best.offered if best else start / 2))
    assert fixed is not None
    cpu = procs.cpu_seconds(run.pids)
    step = await traffic.step(fixed, FIXED_SECONDS)
    spent = procs.cpu_seconds(run.pids) - cpu
    log(f"{len(run.bases)} ASGI process(es): {step.summary()}, {spent:.2f} CPU-s")
    await traffic.close()
    if step.lost:
        raise RuntimeError(f"{step.lost} messages lost at a fixed {fixed:.0f}/s")
    return Measured(saturation, step.delivered / spent, traffic.delivered)


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp, CommitWatch(os.environ["DATABASE_URL"]) as watch:
        workdir = Path(tmp)
        core = Kamailio(workdir).start()
        try:
            figures, per_cpu = _paths(workdir, core.udp, watch)
        finally:
            core.stop()
    log(f"wrote {_plot(figures)}")
    return _results(figures, per_cpu) + watch.results("through the chat suite")


def _paths(workdir: Path, kamailio_port: int, watch: CommitWatch) -> tuple[dict[str, Saturation], dict[str, float]]:
    """The relay, then the portal direct and over the IMS, each on one process and on two."""
    started = time.monotonic()
    conversations = chat_setup.conversations(kamailio_port, CONVERSATIONS)
    ids = [c.request_id for c in conversations]
    log(f"{CONVERSATIONS} conversations set up in {time.monotonic() - started:.0f} s")
    with servers(workdir, 1, 0, over_ims=False) as run_:
        relay = asyncio.run(_measure(run_, _relay_traffic, 250, None, watch))
    assert relay.saturation is not None
    figures, per_cpu = {"relay": relay.saturation}, {"relay1": relay.per_cpu_second}

    portal = functools.partial(_portal_traffic, conversations=conversations)
    delivered = 0
    for path, over_ims, start in (("direct", False, 100.0), ("ims", True, 25.0)):
        ims = 1 if over_ims else 0
        with servers(workdir, 1, ims, over_ims) as run_:
            one = asyncio.run(_measure(run_, portal, start, None, watch))
        assert one.saturation is not None
        figures[path], per_cpu[path + "1"] = one.saturation, one.per_cpu_second
        fixed = max(10.0, 0.5 * (one.saturation.best.offered if one.saturation.best else start / 2))
        chat_setup.settle()  # the thousands of messages just stored, before the next measurement
        with servers(workdir, 2, 2 * ims, over_ims) as run_:
            two = asyncio.run(_measure(run_, portal, None, fixed, watch))
        per_cpu[path + "2"] = two.per_cpu_second
        chat_setup.settle()
        delivered += one.delivered + two.delivered
        chat_setup.check_stored(ids, delivered)
    if UNFLUSHED:
        with unflushed_commits(), servers(workdir, 1, 1, over_ims=True) as run_:
            unflushed = asyncio.run(_measure(run_, portal, 100.0, None, watch))
        assert unflushed.saturation is not None
        figures["ims-unflushed"] = unflushed.saturation
        chat_setup.settle()
        chat_setup.check_stored(ids, delivered + unflushed.delivered)
    return figures, per_cpu


@contextmanager
def unflushed_commits() -> Iterator[None]:
    """The servers started meanwhile commit without waiting for the log's flush (PostgreSQL's
    synchronous_commit off, for this scratch database only): a diagnostic, never the portal's
    setting, since a crash of PostgreSQL would lose the last moments' messages."""
    from django.db import connection

    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" RESET synchronous_commit')


PATHS = {
    "relay": "bare Channels relay", "direct": "portal direct", "ims": "portal over the IMS",
    "ims-unflushed": "portal over the IMS, commits not waiting for the disk",
}  # fmt: skip


def _plot(figures: dict[str, Saturation]) -> Path:
    """p99 against the offered rate for each path, the steps of the saturation search."""
    fig, ax = common.pyplot().subplots(figsize=(8, 5))
    for name, label in PATHS.items():
        if name not in figures:
            continue
        steps = sorted(figures[name].steps, key=lambda step: step.offered)
        ax.plot([s.offered for s in steps], [min(s.p99, 60_000) for s in steps], marker="o", label=label)
    ax.axhline(BOUND_MS, color="#888", linestyle="--", label="p99 bound, 100 ms")
    ax.set(xscale="log", yscale="log", xlabel="messages per second offered", ylabel="p99 latency, ms")
    ax.set_title(f"Chat, {CONVERSATIONS} conversations ({2 * CONVERSATIONS} sockets)")
    ax.legend()
    fig.tight_layout()
    return common.save(fig, "chat.png")


def _held(s: Saturation) -> float:
    return s.best.offered if s.best else 0.0


def _results(f: dict[str, Saturation], per_cpu: dict[str, float]) -> list[Result]:
    name = f"chat ({CONVERSATIONS} conversations, {2 * CONVERSATIONS} sockets)"
    relay = f["relay"]
    rows = [
        Result(name, "bare relay: rate with p99 < 100 ms", _held(relay), "msg/s"),
        Result(name, "bare relay: peak delivered", relay.peak, "msg/s"),
        Result(name, "bare relay: memory per socket", relay.socket_bytes / 1024, "KiB"),
    ]
    for path, label in (("direct", "portal direct"), ("ims", "portal over the IMS")):
        s = f[path]
        target = ">= 2x" if path == "direct" else ">= 1x"
        relay_kib = relay.socket_bytes / 1024
        rows += [
            Result(name, f"{label}: rate with p99 < 100 ms", _held(s), "msg/s", "bare relay", _held(relay) or None,
                   target),
            Result(name, f"{label}: peak delivered", s.peak, "msg/s", "bare relay", relay.peak),
            Result(name, f"{label}: memory per socket", s.socket_bytes / 1024, "KiB", "bare relay", relay_kib),
            Result(name, f"{label}: msg per CPU-s", per_cpu[path + "1"], "msg/CPU-s", "bare relay", per_cpu["relay1"]),
            Result(name, f"{label}: msg per CPU-s, 2 processes", per_cpu[path + "2"], "msg/CPU-s",
                   "1 process", per_cpu[path + "1"], ">= 0.9"),
        ]  # fmt: skip
        if s.best is not None:
            rows += [
                Result(name, f"{label}: p50 at that rate", s.best.p50, "ms"),
                Result(name, f"{label}: p99 at that rate", s.best.p99, "ms"),
            ]
    if "ims-unflushed" in f:  # a diagnostic: no target
        s, label = f["ims-unflushed"], PATHS["ims-unflushed"]
        rows += [
            Result(name, f"{label}: rate with p99 < 100 ms", _held(s), "msg/s", "bare relay", _held(relay) or None),
            Result(name, f"{label}: peak delivered", s.peak, "msg/s", "bare relay", relay.peak),
        ]
    return rows
