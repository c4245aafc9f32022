"""Junk sent to a SIP port is logged at most once a minute per source, the next line saying how
many were left out: a flood of datagrams cannot flood the log, and each source still shows."""

import asyncio
import logging

from sip.junk import JunkLog
from tests.sip_peers import RawUdp, udp_agent

JUNK = b"\x00\x01 this is no SIP at all\r\n\r\n"


def _lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "sip.junk"]


async def test_it_logs_one_line_per_source_for_a_flood(caplog):
    caplog.set_level(logging.INFO, logger="sip.junk")
    agent = await udp_agent()
    flooder, other = await RawUdp.start(), await RawUdp.start("127.0.0.2")
    try:
        for _ in range(200):
            flooder.send(JUNK, agent.transport.local)
        other.send(JUNK, agent.transport.local)
        while agent.stats["malformed dropped"] < 201:
            await asyncio.sleep(0.01)
        lines = _lines(caplog)
        assert len(lines) == 2
        assert any("from 127.0.0.1:" in line for line in lines)
        assert any("from 127.0.0.2:" in line for line in lines)
    finally:
        for closing in (agent, flooder, other):
            closing.close()


def test_it_says_how_many_it_left_out(caplog):
    caplog.set_level(logging.INFO, logger="sip.junk")
    now = [1000.0]
    junk = JunkLog(interval=60.0, clock=lambda: now[0])
    assert junk.note("192.0.2.1", 5060, "malformed message dropped")
    assert not any(junk.note("192.0.2.1", 5060, "malformed message dropped") for _ in range(41))
    now[0] += 61
    assert junk.note("192.0.2.1", 5061, "malformed message dropped")
    assert _lines(caplog)[-1] == (
        "malformed message dropped from 192.0.2.1:5061 (41 more from 192.0.2.1 not logged in the last 60 s)"
    )


def test_it_forgets_the_oldest_sources_beyond_its_bound():
    junk = JunkLog(max_sources=3)
    for n in range(10):
        junk.note(f"192.0.2.{n}", 5060, "junk")
    assert not junk.note("192.0.2.9", 5060, "junk")  # still remembered: not logged again
    assert junk.note("192.0.2.0", 5060, "junk")  # forgotten: logged as new
