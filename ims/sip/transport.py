"""Transports: UDP, TCP, TLS and WebSocket (RFC 7118, client side). Each turns bytes into messages
and hands them to the user agent with the peer they came from, which is where answers go back."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ims.sip.message import Request, Response, SipParseError, StreamParser, parse

log = logging.getLogger(__name__)

UDP_MTU_SAFE = 1300  # RFC 3261 §18.1.1: larger requests go over a congestion-controlled transport


@dataclass(frozen=True)
class Peer:
    transport: str  # UDP, TCP, TLS, WS, WSS
    host: str
    port: int


Received = Callable[[Request | Response, Peer], None]
Malformed = Callable[[SipParseError, Peer], None]


class Transport:
    name = "UDP"
    reliable = False

    def __init__(self, received: Received | None = None, malformed: Malformed | None = None) -> None:
        # The user agent that owns the transport sets these.
        self.received: Received = received or (lambda message, peer: None)
        self.malformed: Malformed = malformed or (lambda error, peer: None)
        self.local: tuple[str, int] = ("127.0.0.1", 0)

    async def send(self, data: bytes, peer: Peer) -> None:
        raise NotImplementedError

    def send_now(self, data: bytes, peer: Peer) -> bool:
        """Send without waiting, where the transport can (datagrams); False where it cannot."""
        return False

    def close(self) -> None:
        raise NotImplementedError

    def _deliver(self, data: bytes, peer: Peer, *, stream: bool = False) -> None:
        try:
            message = parse(data, stream=stream)
        except SipParseError as error:
            self.malformed(error, peer)
            return
        self.received(message, peer)


class UdpTransport(Transport, asyncio.DatagramProtocol):
    def __init__(self, received: Received | None = None, malformed: Malformed | None = None) -> None:
        super().__init__(received, malformed)
        self._socket: asyncio.DatagramTransport | None = None

    async def start(self, host: str, port: int) -> UdpTransport:
        loop = asyncio.get_running_loop()
        self._socket, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        self.local = self._socket.get_extra_info("sockname")[:2]
        return self

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if data.strip(b"\r\n"):  # bare CRLFs are keep-alives
            self._deliver(data, Peer("UDP", str(addr[0]), int(addr[1])))

    async def send(self, data: bytes, peer: Peer) -> None:
        self.send_now(data, peer)

    def send_now(self, data: bytes, peer: Peer) -> bool:
        assert self._socket is not None
        self._socket.sendto(data, (peer.host, peer.port))
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()


class ConnectedTransport(Transport):
    """A connection per peer, opened on first send and read until it closes; a lost one is opened
    again by the next send. Subclasses say how to open, read, write and close one."""

    reliable = True

    def __init__(
        self, received: Received | None = None, malformed: Malformed | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(received, malformed)
        self.tls = tls
        self._connections: dict[tuple[str, int], Any] = {}
        self._opening: dict[tuple[str, int], asyncio.Lock] = {}
        self._readers: set[asyncio.Task[None]] = set()

    async def _connection(self, peer: Peer) -> Any:
        key = (peer.host, peer.port)
        async with self._opening.setdefault(key, asyncio.Lock()):
            connection = self._connections.get(key)
            if connection is None:
                connection = self._connections[key] = await self._open(peer)
                task = asyncio.create_task(self._reading(connection, Peer(self.name, *key)))
                self._readers.add(task)
                task.add_done_callback(self._readers.discard)
            return connection

    async def _reading(self, connection: Any, peer: Peer) -> None:
        try:
            await self._read(connection, peer)
        finally:
            self._connections.pop((peer.host, peer.port), None)
            self._close(connection)

    async def send(self, data: bytes, peer: Peer) -> None:
        await self._write(await self._connection(peer), data)

    def close(self) -> None:
        for connection in self._connections.values():
            self._close(connection)
        for task in self._readers:
            task.cancel()

    async def _open(self, peer: Peer) -> Any:
        raise NotImplementedError

    async def _read(self, connection: Any, peer: Peer) -> None:
        raise NotImplementedError

    async def _write(self, connection: Any, data: bytes) -> None:
        raise NotImplementedError

    def _close(self, connection: Any) -> None:
        raise NotImplementedError


class StreamTransport(ConnectedTransport):
    """TCP or TLS, read by Content-Length framing."""

    name = "TCP"

    def __init__(
        self, received: Received | None = None, malformed: Malformed | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(received, malformed, tls)
        self.name = "TLS" if tls else "TCP"

    async def _open(self, peer: Peer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(peer.host, peer.port, ssl=self.tls)
        self.local = writer.get_extra_info("sockname")[:2]
        return reader, writer

    async def _read(self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], peer: Peer) -> None:
        reader, writer = connection
        framer = StreamParser()
        try:
            while data := await reader.read(65536):
                for item in framer.feed(data):
                    if isinstance(item, bytes):
                        writer.write(item)  # pong to a CRLF keep-alive ping
                    else:
                        self.received(item, peer)
        except SipParseError as error:
            self.malformed(error, peer)  # framing is lost: the connection cannot go on
        except (ConnectionError, ssl.SSLError) as error:
            log.info("%s connection to %s:%s lost: %s", self.name, peer.host, peer.port, error)

    async def _write(self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], data: bytes) -> None:
        connection[1].write(data)
        await connection[1].drain()

    def _close(self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        connection[1].close()


class WebSocketTransport(ConnectedTransport):
    """SIP over WebSocket toward an eP-CSCF (RFC 7118): one SIP message per WebSocket message."""

    name = "WS"
    path = "/"

    def __init__(
        self, received: Received | None = None, malformed: Malformed | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(received, malformed, tls)
        self.name = "WSS" if tls else "WS"

    async def _open(self, peer: Peer) -> Any:
        from websockets.asyncio.client import connect

        uri = f"{'wss' if self.tls else 'ws'}://{peer.host}:{peer.port}{self.path}"
        socket = await connect(uri, subprotocols=["sip"], ssl=self.tls, max_size=2**20)  # type: ignore[list-item]
        self.local = socket.local_address[:2]
        return socket

    async def _read(self, socket: Any, peer: Peer) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for frame in socket:
                self._deliver(frame.encode() if isinstance(frame, str) else frame, peer)
        except ConnectionClosed as error:
            log.info("WebSocket to %s:%s closed: %s", peer.host, peer.port, error)

    async def _write(self, socket: Any, data: bytes) -> None:
        try:
            await socket.send(data.decode("utf-8"))  # text frames where the message is text
        except UnicodeDecodeError:
            await socket.send(data)

    def _close(self, socket: Any) -> None:
        socket.transport.close()  # no closing handshake to wait for


def tls_context(ca_file: str | None, cert_file: str | None, key_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context
