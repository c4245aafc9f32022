"""Transactions on loopback against raw peers: delivery, retransmission, timeouts, bad input."""

import asyncio

from sip.message import Request, parse
from sip.transport import Peer, StreamTransport
from sip.ua import UserAgent
from tests.sip_peers import FAST, RawUdp, peer_of, tcp_answering_server, udp_agent


def _message(agent, to="sip:help-0001@ims.example.net"):
    request = agent.new_request("MESSAGE", to, from_uri="sip:jane@ims.example.net", to_uri=to)
    request.add("Content-Type", "text/plain")
    request.body = b"Where do I enter my pension?"
    return request


async def test_it_delivers_a_message_and_its_answer_between_two_agents():
    got = []

    async def handler(request, transaction):
        got.append(request.body.decode())
        transaction.respond(advisor.response(request, 200, "OK"))

    advisor = await udp_agent(handler)
    jane = await udp_agent()
    response = await jane.request(_message(jane), peer_of(advisor))
    assert response.status == 200
    assert got == ["Where do I enter my pension?"]
    jane.close()
    advisor.close()


async def test_it_retransmits_over_udp_until_answered():
    raw, jane = await RawUdp.start(), await udp_agent()
    pending = asyncio.ensure_future(jane.request(_message(jane), raw.peer))
    first, _ = await raw.next()
    again, addr = await raw.next()  # no answer yet: Timer E resends after T1
    assert isinstance(again, Request)
    assert again == first
    answer = jane.response(again, 202, "Accepted")
    raw.send(answer.to_bytes(), addr)
    assert (await pending).status == 202
    raw.close()
    jane.close()


async def test_it_absorbs_a_repeated_answer_then_forgets_the_transaction():
    raw, jane = await RawUdp.start(), await udp_agent()
    pending = asyncio.ensure_future(jane.request(_message(jane), raw.peer))
    request, addr = await raw.next()
    assert isinstance(request, Request)
    answer = jane.response(request, 200, "OK").to_bytes()
    raw.send(answer, addr)
    assert (await pending).status == 200
    raw.send(answer, addr)  # our 200 lost on its way back, as the peer sees it: sent again
    await asyncio.sleep(FAST.t4 / 4)
    assert jane.stats["stray responses"] == 0  # the finished transaction lingers (Timer K)
    await asyncio.sleep(FAST.t4 * 1.5)
    assert not jane.client_transactions
    raw.send(answer, addr)
    await asyncio.sleep(FAST.t4 / 4)
    assert jane.stats["stray responses"] == 1
    raw.close()
    jane.close()


async def test_it_gives_up_with_408_when_nobody_answers():
    raw, jane = await RawUdp.start(), await udp_agent()
    response = await jane.request(_message(jane), raw.peer)
    assert (response.status, response.reason) == (408, "Request Timeout")
    sends = raw.received.qsize()
    assert 5 <= sends <= 12  # T1 doubling to T2, within 64·T1
    raw.close()
    jane.close()


async def test_it_answers_a_retransmitted_request_without_handling_it_twice():
    calls = []

    async def handler(request, transaction):
        calls.append(request)
        transaction.respond(advisor.response(request, 200, "OK"))

    advisor, raw = await udp_agent(handler), await RawUdp.start()
    request = _message(advisor)
    request.add("Via", f"SIP/2.0/UDP 127.0.0.1:{raw.peer.port};branch=z9hG4bKretrans", first=True)
    for _ in range(2):
        raw.send(request.to_bytes(), advisor.transport.local)
        assert (await raw.next_response()).status == 200
    assert len(calls) == 1
    advisor.close()
    raw.close()


async def test_it_answers_malformed_requests_with_400_and_keeps_running():
    async def handler(request, transaction):
        transaction.respond(advisor.response(request, 200, "OK"))

    advisor, raw = await udp_agent(handler), await RawUdp.start()
    broken = (
        b"MESSAGE sip:help-0001@ims.example.net SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad\r\nno colon here\r\n\r\n"
    )
    raw.send(broken, advisor.transport.local)
    raw.send(b"\x00\x01garbage that is no SIP at all\r\n\r\n", advisor.transport.local)
    response = await raw.next_response()
    assert (response.status, response.reason) == (400, "Bad Request")
    assert "malformed header line" in response["Warning"]
    # No CSeq: answered 400 too, naming what is missing.
    missing = _message(advisor)
    missing.add("Via", f"SIP/2.0/UDP 127.0.0.1:{raw.peer.port};branch=z9hG4bKnocseq", first=True)
    missing.remove("CSeq")
    raw.send(missing.to_bytes(), advisor.transport.local)
    response = await raw.next_response()
    assert "missing CSeq" in response["Warning"]
    assert advisor.stats["malformed dropped"] == 1
    jane = await udp_agent()
    assert (await jane.request(_message(jane), peer_of(advisor))).status == 200
    for agent in (advisor, jane):
        agent.close()
    raw.close()


async def test_it_sends_over_tcp_with_content_length_framing():
    server, seen = await tcp_answering_server()
    port = server.sockets[0].getsockname()[1]
    jane = UserAgent(StreamTransport(lambda m, p: None, lambda e, p: None), None, FAST)
    for _ in range(3):
        response = await jane.request(_message(jane), Peer("TCP", "127.0.0.1", port))
        assert response.status == 200
    assert [r.body for r in seen] == [b"Where do I enter my pension?"] * 3
    assert parse(seen[0].to_bytes()).get_all("Via")[0].startswith("SIP/2.0/TCP 127.0.0.1:")
    jane.close()
    server.close()
