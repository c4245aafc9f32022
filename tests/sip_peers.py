"""Small raw SIP peers for the transaction tests: they speak bytes, not our stack."""

from __future__ import annotations

import asyncio

from sip.message import Request, Response, StreamParser, parse
from sip.transaction import Timers
from sip.transport import Peer, UdpTransport
from sip.ua import UserAgent

FAST = Timers(t1=0.02, t2=0.16, t4=0.1)


async def udp_agent(handler=None, timers: Timers = FAST) -> UserAgent:
    transport = await UdpTransport(lambda m, p: None, lambda e, p: None).start("127.0.0.1", 0)
    return UserAgent(transport, handler, timers)


def peer_of(agent: UserAgent) -> Peer:
    return Peer(agent.transport.name, *agent.transport.local)


class RawUdp(asyncio.DatagramProtocol):
    """Keeps what it receives; answers requests only when told to."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[Request | Response, tuple[str, int]]] = asyncio.Queue()
        self.socket: asyncio.DatagramTransport | None = None

    @classmethod
    async def start(cls, host: str = "127.0.0.1") -> RawUdp:
        """On `host`: another loopback address (127.0.0.2) is a source the IMS side does not trust."""
        raw = cls()
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: raw, local_addr=(host, 0))
        return raw

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.socket = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((parse(data), addr))

    @property
    def peer(self) -> Peer:
        assert self.socket is not None
        return Peer("UDP", *self.socket.get_extra_info("sockname")[:2])

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.socket is not None
        self.socket.sendto(data, addr)

    async def next(self, timeout: float = 2.0) -> tuple[Request | Response, tuple[str, int]]:
        return await asyncio.wait_for(self.received.get(), timeout)

    async def next_response(self, timeout: float = 2.0) -> Response:
        message, _ = await self.next(timeout)
        assert isinstance(message, Response), message
        return message

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()


async def tcp_answering_server(status: int = 200):
    """A TCP server that answers every request with `status`, framing by Content-Length."""
    seen: list[Request] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = StreamParser()
        while data := await reader.read(65536):
            for item in framer.feed(data):
                if isinstance(item, Request):
                    seen.append(item)
                    response = Response(status=status, reason="OK")
                    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
                        for value in item.get_all(name):
                            response.add(name, value)
                    writer.write(response.to_bytes())

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, seen
