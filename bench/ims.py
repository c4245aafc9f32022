"""The IMS connector against Kamailio, beside sipp running the same scenario against the same
Kamailio in the same run: REGISTER with Digest, MESSAGE, and the CPU to keep identities registered."""

from __future__ import annotations

import asyncio
import functools
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.common import Result, check
from ims.registration import IdentityConfig, Registration
from portal.runtime import tune_gc
from sip.digest import DigestCredentials
from sip.transport import Peer, UdpTransport
from sip.ua import UserAgent
from tests.support import sipp as sipp_support
from tests.support.kamailio import DOMAIN, PASSWORD, Kamailio
from tests.support.services import free_port
from tests.support.sipp import finished

# Tracing every message to a file would slow sipp down, and sipp is the baseline.
sipp = functools.partial(sipp_support.sipp, trace=False)

REGISTERS = 5000
MESSAGES = 3000
KEPT = 10_000
KEEP_EXPIRES = 20  # refreshed every 10 s, so the window below holds two rounds
WINDOW = 25.0
SIPP_LOAD = ("-r", "20000", "-l", "64")  # as many at once as the connector keeps in flight


class Tally:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    async def registering(self, assignment_id: int) -> None: ...

    async def registered(self, assignment_id: int, until: object, service_route: list[str]) -> None:
        self.counts["registered"] += 1

    async def failed(self, assignment_id: int, reason: str) -> None:
        self.counts["failed"] += 1

    async def deregistered(self, assignment_id: int) -> None: ...


def _identities(core: Kamailio, count: int, prefix: str, expires: int = 600) -> list[IdentityConfig]:
    credentials = DigestCredentials.from_password(f"bench@{DOMAIN}", DOMAIN, PASSWORD)
    proxy = Peer("UDP", "127.0.0.1", core.udp)
    registrar, instance = f"sip:{DOMAIN}", f"<urn:uuid:{uuid.uuid4()}>"
    return [
        IdentityConfig(n, f"sip:{prefix}{n}@{DOMAIN}", registrar, proxy, instance, credentials, expires=expires)
        for n in range(count)
    ]


async def _connector_registers(core: Kamailio) -> float:
    agent, tally = UserAgent(await UdpTransport().start("127.0.0.1", 0)), Tally()
    registrations = [Registration(agent, config, tally) for config in _identities(core, REGISTERS, "c")]
    started = time.perf_counter()
    await asyncio.gather(*(r.register() for r in registrations))
    elapsed = time.perf_counter() - started
    for registration in registrations:
        registration.stop()
    agent.close()
    check(tally.counts["registered"] == REGISTERS, f"registrations went wrong: {tally.counts}")
    return REGISTERS / elapsed


async def _timed_sipp(workdir: Path, scenario: str, count: int, **options: object) -> float:
    started = time.perf_counter()
    process = await sipp(scenario, workdir=workdir, extra=SIPP_LOAD, timeout=120, **options)  # type: ignore[arg-type]
    await finished(process, workdir, timeout=180)
    return count / (time.perf_counter() - started)


async def _sipp_registers(core: Kamailio, workdir: Path) -> float:
    rows = [[DOMAIN, f"s{n}"] for n in range(REGISTERS)]
    options = dict(core_port=core.udp, local_port=free_port(), service="x", fields=[], rows=rows)
    return await _timed_sipp(workdir, "register", REGISTERS, auth=(f"bench@{DOMAIN}", PASSWORD), **options)


async def _sink(core: Kamailio, workdir: Path, name: str) -> asyncio.subprocess.Process:
    """A phone registered as `name` that accepts MESSAGES messages, then exits. Each phase has its
    own, or the core would fork every MESSAGE to the binding of the previous phase's phone too."""
    port = free_port()
    register = await sipp("register", core_port=core.udp, local_port=port, service="x", fields=[DOMAIN, name],
                          auth=(f"bench@{DOMAIN}", PASSWORD), workdir=workdir)  # fmt: skip
    await finished(register, workdir)
    rows = [[DOMAIN, "."] for _ in range(MESSAGES)]
    receiver = await sipp("receive_message", core_port=core.udp, local_port=port, service="x", fields=[],
                          rows=rows, workdir=workdir, timeout=120)  # fmt: skip
    await asyncio.sleep(0.3)
    return receiver


async def _connector_messages(core: Kamailio, workdir: Path) -> float:
    receiver = await _sink(core, workdir, "sink-connector")
    agent = UserAgent(await UdpTransport().start("127.0.0.1", 0))
    gate, statuses = asyncio.Semaphore(64), Counter[int]()
    to = f"sip:sink-connector@{DOMAIN}"

    async def one(n: int) -> None:
        async with gate:
            request = agent.new_request("MESSAGE", to, from_uri=f"sip:help-{n}@{DOMAIN}", to_uri=to)
            request.add("Content-Type", "text/plain")
            request.body = b"How do I declare my pension?"
            statuses[(await agent.request(request, Peer("UDP", "127.0.0.1", core.udp))).status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(MESSAGES)))
    elapsed = time.perf_counter() - started
    agent.close()
    check(statuses == Counter({200: MESSAGES}), f"messages went wrong: {statuses}")
    await finished(receiver, workdir)
    return MESSAGES / elapsed


async def _sipp_messages(core: Kamailio, workdir: Path) -> float:
    receiver = await _sink(core, workdir, "sink-sipp")
    rows = [[DOMAIN, "How do I declare my pension?", "phone"] for _ in range(MESSAGES)]
    options = dict(core_port=core.udp, local_port=free_port(), service="sink-sipp", fields=[], rows=rows)
    rate = await _timed_sipp(workdir, "send_message", MESSAGES, **options)
    await finished(receiver, workdir)
    return rate


async def _kept_registered(core: Kamailio) -> tuple[float, float]:
    """CPU seconds per refresh while one connector keeps KEPT identities registered."""
    agent, tally = UserAgent(await UdpTransport().start("127.0.0.1", 0)), Tally()
    registrations = [Registration(agent, c, tally) for c in _identities(core, KEPT, "k", KEEP_EXPIRES)]
    await asyncio.gather(*(r.register() for r in registrations))
    before, cpu = tally.counts["registered"], time.process_time()
    await asyncio.sleep(WINDOW)
    refreshes, spent = tally.counts["registered"] - before, time.process_time() - cpu
    for registration in registrations:
        registration.stop()
    agent.close()
    check(tally.counts["failed"] == 0 and refreshes >= KEPT, f"refreshes went wrong: {tally.counts}")
    return refreshes, spent


async def _measure() -> dict[str, float]:
    tune_gc()  # as run_ims sets up the connector it measures
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        core = Kamailio(workdir).start()  # MD5: sipp 3.6 answers no SHA-256 challenge
        try:
            figures = {
                "sipp REGISTER": await _sipp_registers(core, workdir),
                "connector REGISTER": await _connector_registers(core),
                "sipp MESSAGE": await _sipp_messages(core, workdir),
                "connector MESSAGE": await _connector_messages(core, workdir),
            }
            figures["refreshes"], figures["refresh CPU"] = await _kept_registered(core)
        finally:
            core.stop()
    return figures


def run() -> list[Result]:
    f = asyncio.run(_measure())
    name = "IMS connector vs sipp (Kamailio, UDP, Digest MD5)"
    per_refresh_ms = 1000 * f["refresh CPU"] / f["refreshes"]
    # At the default 3600 s registration (refreshed every 3000 s), the share of one core it costs.
    hourly_share = 100 * KEPT / 3000 * per_refresh_ms / 1000
    return [
        Result(name, "REGISTER with Digest", f["connector REGISTER"], "/s", "sipp", f["sipp REGISTER"], "ratio >= 0.5"),
        Result(name, "MESSAGE", f["connector MESSAGE"], "/s", "sipp", f["sipp MESSAGE"]),
        Result(name, f"CPU per refresh, {KEPT:,} kept registered", per_refresh_ms, "ms"),
        Result(name, f"core share for {KEPT:,} at Expires 3600", hourly_share, "%"),
    ]
