"""Calls of the IMS side against Kamailio, beside sipp running the same calls against the same
Kamailio in the same run: calls set up and torn down per second (INVITE, 180, 200, ACK, BYE, 200)
to a sipp phone, the IMS side's CPU per call, passed through and converted by rtpengine;
then how many converted calls rtpengine carries at once with under 1 % loss (bench/rtp_load.py)."""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench import rtp_load
from bench.common import Result, check
from bench.ims import SIPP_LOAD, sipp
from ims.calls import CallDesk
from ims.media import MediaPolicy, PassThrough, PerCall
from ims.rtpengine import RtpEngine
from portal.runtime import tune_gc
from sip.transport import Peer, UdpTransport
from sip.ua import UserAgent
from tests.support.kamailio import DOMAIN, PASSWORD, Kamailio
from tests.support.services import free_port, require_binary
from tests.support.sipp import SCENARIOS, finished

CALLS = 2000
IN_FLIGHT = 64  # as sipp's -l in SIPP_LOAD
GROUP = "bench-holder"
# What a browser offers (Chromium's shape): Opus and G.711 over DTLS-SRTP with ICE. Passed through,
# it crosses unchanged; converted, rtpengine anchors it and offers the callee plain PCMU.
BROWSER_OFFER = "\r\n".join([
    "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
    "a=msid-semantic: WMS stream", "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8", "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0", "a=candidate:1 1 udp 2113937151 127.0.0.1 9 typ host",
    "a=ice-ufrag:Bnch", "a=ice-pwd:benchbenchbenchbenchbench", "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=setup:actpass", "a=mid:0", "a=sendrecv",
    "a=rtcp-mux", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "",
])  # fmt: skip


class Records:
    """The states the IMS side records of each call (what ims.actions.call_changed would store)."""

    def __init__(self) -> None:
        self.states: Counter[str] = Counter()

    async def __call__(self, event: dict[str, Any]) -> None:
        self.states[event["state"] if event["state"] != "ended" else "ended: " + event.get("reason", "")] += 1


async def _phone(core: Kamailio, workdir: Path, name: str, calls: int) -> asyncio.subprocess.Process:
    """sipp answering as tests/sipp/answer.xml, registered as `name`, `calls` calls and then exiting.
    (sipp's built-in `uas` stays in each call 4 s after the BYE and fails it on an ACK the proxy's
    workers passed on after the BYE.) Each phase has its own phone, or the core would fork every
    INVITE to the previous phase's phone too."""
    port = free_port()
    register = await sipp("register", core_port=core.udp, local_port=port, service="x", fields=[DOMAIN, name],
                          auth=(f"bench@{DOMAIN}", PASSWORD), workdir=workdir)  # fmt: skip
    await finished(register, workdir)
    return await _sipp(port, workdir, "-sf", str(SCENARIOS / "answer.xml"), "-m", str(calls), core=core)


async def _sipp(port: int, workdir: Path, *options: str, core: Kamailio) -> asyncio.subprocess.Process:
    argv = [require_binary("sipp"), f"127.0.0.1:{core.udp}", "-p", str(port), "-i", "127.0.0.1", *options]
    # The proxy's workers may pass on a 180 after the 200, or the ACK after the BYE: late, not wrong.
    argv += ["-default_behaviors", "all,-abortunexp", "-nostdin", "-timeout", "180s", "-timeout_error"]
    argv += ["-trace_err", "-error_file", str(workdir / f"calls-{port}.err")]
    return await asyncio.create_subprocess_exec(
        *argv, cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )


def _caller_scenario(workdir: Path) -> Path:
    """tests/sipp/invite_answer_bye.xml without its talk: INVITE, 200, ACK and BYE at once, routed
    in the dialog as a phone routes them (sipp's built-in `uac` sends its ACK and BYE to the proxy's
    own address, which this core cannot route)."""
    text = (SCENARIOS / "invite_answer_bye.xml").read_text()
    path = workdir / "invite_bye.xml"
    path.write_text(re.sub(r"\s*<pause [^>]*/>", "", text))
    values = workdir / "invite_bye.csv"
    values.write_text(f"SEQUENTIAL\n{DOMAIN};;sipp-caller;\n")
    return path


async def _sipp_calls(core: Kamailio, workdir: Path, name: str) -> float:
    """sipp calling a sipp phone through the core: the baseline."""
    answering = await _phone(core, workdir, name, CALLS)
    await asyncio.sleep(0.3)
    scenario = _caller_scenario(workdir)
    started = time.perf_counter()
    options = ("-sf", str(scenario), "-inf", str(workdir / "invite_bye.csv"), "-s", name, "-m", str(CALLS))
    calling = await _sipp(free_port(), workdir, *options, *SIPP_LOAD, core=core)
    await finished(calling, workdir, timeout=240)
    rate = CALLS / (time.perf_counter() - started)
    await finished(answering, workdir, timeout=30)
    print(f"calls: sipp to sipp, {rate:,.0f} calls/s", flush=True)
    return rate


async def _connector_calls(core: Kamailio, workdir: Path, media: MediaPolicy, name: str) -> tuple[float, float]:
    """The IMS side's call desk placing CALLS calls to a sipp `uas` and hanging each up once
    connected, IN_FLIGHT at a time: (calls per second, CPU seconds of this process per call)."""
    answering = await _phone(core, workdir, name, CALLS)
    await asyncio.sleep(0.3)
    agent = UserAgent(await UdpTransport().start("127.0.0.1", 0))
    records = Records()
    desk, gate, peer = (
        CallDesk(media=media, records=records),
        asyncio.Semaphore(IN_FLIGHT),
        Peer("UDP", "127.0.0.1", core.udp),
    )

    async def one(n: int) -> None:
        async with gate:
            key = uuid.uuid4().hex
            await desk.place(
                key, GROUP, agent, peer, f"sip:help-{n}@{DOMAIN}", f"sip:{name}@{DOMAIN}", BROWSER_OFFER, []
            )
            await desk.control({"call": key, "holder": GROUP, "action": "hangup"})

    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(CALLS)))
    elapsed, spent = time.perf_counter() - started, time.process_time() - cpu
    await asyncio.sleep(0.1)  # the records of the last calls
    # A 180 the proxy passes on after the 200 rings no more: "ringing" may fall short.
    wanted = {"calling": CALLS, "connected": CALLS, "ended: hung up": CALLS}
    check(all(records.states[state] == n for state, n in wanted.items()), f"calls went wrong: {records.states}")
    await finished(answering, workdir, timeout=30)  # every call ACKed and its BYE answered at the phone
    agent.close()
    rate, cpu = CALLS / elapsed, spent / CALLS
    print(f"calls: IMS side to {name}, {rate:,.0f} calls/s, {1000 * cpu:.2f} ms CPU a call", flush=True)
    return rate, cpu


async def _measure() -> dict[str, float]:
    tune_gc()  # as run_ims sets up the IMS side it measures
    with tempfile.TemporaryDirectory() as tmp:
        workdir, figures = Path(tmp), dict[str, float]()
        core, gateway = Kamailio(workdir).start(), rtp_load.gateway(workdir, 4 * IN_FLIGHT + 100)
        try:
            sipp_before = await _sipp_calls(core, workdir, "uas-sipp-1")
            for path, media in (("passed", PassThrough()), ("converted", PerCall(RtpEngine(*gateway.address)))):
                figures[path], figures[path + " CPU"] = await _connector_calls(core, workdir, media, "uas-" + path)
            # sipp before and after: the machine's drift over the suite moves the baseline too.
            figures["sipp"] = (sipp_before + await _sipp_calls(core, workdir, "uas-sipp-2")) / 2
        finally:
            gateway.stop()
            core.stop()
    return figures


def run() -> list[Result]:
    f = asyncio.run(_measure())
    name = "IMS side's calls vs sipp (Kamailio, UDP)"
    capacity = rtp_load.run()
    return [
        Result(name, "call set-up and tear-down, passed through", f["passed"], "/s", "sipp", f["sipp"], "ratio >= 0.5"),
        Result(name, "call set-up and tear-down, converted (rtpengine NG)", f["converted"], "/s", "sipp", f["sipp"]),
        Result(name, "IMS side CPU per call, passed through", 1000 * f["passed CPU"], "ms"),
        Result(name, "IMS side CPU per call, converted", 1000 * f["converted CPU"], "ms"),
        *capacity,
    ]
