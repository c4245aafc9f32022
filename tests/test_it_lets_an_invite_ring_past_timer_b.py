"""An INVITE answered with a provisional response is in Proceeding (RFC 3261 §17.1.1.2): it is no
longer resent and Timer B no longer ends it, since a phone may ring far longer than 64·T1. The
caller ends it with CANCEL, after which its final answer is due within 64·T1 (§9.1)."""

import asyncio

from sip.transaction import client_key
from tests.sip_peers import FAST, RawUdp, udp_agent

TO = "sip:callee@ims.example.net"


async def _ringing(raw, jane):
    invite = jane.new_request("INVITE", TO, from_uri="sip:jane@ims.example.net", to_uri=TO)
    pending = asyncio.ensure_future(jane.request(invite, raw.peer))
    request, addr = await raw.next()
    raw.send(jane.response(request, 180, "Ringing").to_bytes(), addr)
    return pending, request, addr


async def test_it_waits_for_the_answer_of_an_invite_that_rings_past_64_t1():
    raw, jane = await RawUdp.start(), await udp_agent()
    pending, request, addr = await _ringing(raw, jane)
    await asyncio.sleep(FAST.timeout * 2)
    assert not pending.done()
    assert raw.received.empty()  # nothing resent once it rang
    raw.send(jane.response(request, 200, "OK").to_bytes(), addr)
    assert (await pending).status == 200
    raw.close()
    jane.close()


async def test_it_gives_up_on_a_cancelled_invite_whose_answer_never_comes():
    raw, jane = await RawUdp.start(), await udp_agent()
    pending, request, addr = await _ringing(raw, jane)
    jane.client_transactions[client_key(request)].cancelled()
    raw.send(jane.response(request, 180, "Ringing").to_bytes(), addr)  # late, or sent again
    response = await asyncio.wait_for(pending, FAST.timeout * 3)
    assert response.status == 408
    raw.close()
    jane.close()
