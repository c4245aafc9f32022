"""The UDP transport reads a burst of datagrams in one wake-up and, when the socket's buffer is
full, keeps what it could not send yet and sends it later in order: nothing dropped, nothing
reordered by our side."""

import asyncio

from sip.transport import UdpTransport
from tests.sip_peers import RawUdp, udp_agent


def _message(agent, n):
    to = "sip:help-0001@ims.example.net"
    request = agent.new_request("MESSAGE", to, from_uri="sip:jane@ims.example.net", to_uri=to, cseq=n)
    request.add("Via", f"SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKburst{n};rport")
    return request.to_bytes()


class _FullOnce:
    """The transport's socket, its send buffer full for the first `full` sends."""

    def __init__(self, sock, full):
        self.sock, self.full = sock, full

    def sendto(self, data, address):
        if self.full:
            self.full -= 1
            raise BlockingIOError
        return self.sock.sendto(data, address)

    def __getattr__(self, name):
        return getattr(self.sock, name)


async def test_it_sends_what_a_full_socket_refused_later_and_in_order():
    raw, jane = await RawUdp.start(), await udp_agent()
    transport = jane.transport
    assert isinstance(transport, UdpTransport)
    transport._sock = _FullOnce(transport._sock, full=2)  # type: ignore[assignment]
    for n in range(1, 6):
        transport.send_now(_message(jane, n), raw.peer)
    got = [(await raw.next())[0].cseq[0] for _ in range(5)]
    assert got == [1, 2, 3, 4, 5]
    assert not transport._backlog
    raw.close()
    jane.close()


async def test_it_reads_every_datagram_of_a_burst():
    seen = []

    async def handler(request, transaction):
        seen.append(request.cseq[0])
        transaction.respond(advisor.response(request, 200, "OK"))

    advisor, raw = await udp_agent(handler), await RawUdp.start()
    burst = UdpTransport.READS_PER_WAKEUP + 5  # more than one wake-up reads (and within a socket buffer)
    for n in range(1, burst + 1):
        raw.send(_message(advisor, n), advisor.transport.local)
    for _ in range(burst):
        assert (await raw.next_response()).status == 200
    await asyncio.sleep(0)
    assert sorted(seen) == list(range(1, burst + 1))
    advisor.close()
    raw.close()
