"""Transports: UDP, TCP, TLS (which can also listen) and WebSocket (RFC 7118, client side). Each
and hands them to the user agent with the peer they came from, which is where answers go back."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sip.message import Request, Response, SipParseError, StreamParser, parse

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

    async def connect(self, peer: Peer) -> None:
        """Open the flow to `peer` now, where there is one, so `local` names its address."""

    def send_now(self, data: bytes, peer: Peer) -> bool:
        """Send without waiting, where the transport can (datagrams); False where it cannot."""
        return False

    def close(self) -> None:
        raise NotImplementedError

    def deliver(self, data: bytes, peer: Peer, *, stream: bool = False) -> None:
        """One datagram or WebSocket message, as it arrived from `peer`."""
        try:
            message = parse(data, stream=stream)
        except SipParseError as error:
            self.malformed(error, peer)
            return
        self.received(message, peer)


class UdpTransport(Transport):
    """A non-blocking socket read straight from the event loop: whatever datagrams are waiting
    are read in one wake-up (asyncio's datagram transport reads one per turn of the loop, into a
    fresh 256 KiB buffer), and sends go out at once unless the socket's buffer is full."""

    READS_PER_WAKEUP = 64  # then other callbacks get their turn

    def __init__(self, received: Received | None = None, malformed: Malformed | None = None) -> None:
        super().__init__(received, malformed)
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buffer = bytearray(65536)  # the largest UDP payload fits
        self._view = memoryview(self._buffer)
        self._backlog: deque[tuple[bytes, tuple[str, int]]] = deque()

    async def start(self, host: str, port: int) -> UdpTransport:
        self._loop = loop = asyncio.get_running_loop()
        family, kind, proto, _, address = (await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM))[0]
        self._sock = socket.socket(family, kind, proto)
        self._sock.setblocking(False)
        self._sock.bind(address)
        self.local = self._sock.getsockname()[:2]
        loop.add_reader(self._sock.fileno(), self._readable)
        return self

    def _readable(self) -> None:
        assert self._sock is not None
        for _ in range(self.READS_PER_WAKEUP):
            try:
                size, addr = self._sock.recvfrom_into(self._buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # an ICMP error for an earlier send: nothing was received
                log.debug("UDP error on %s: %s", self.local, error)
                continue
            data = bytes(self._view[:size])
            if data.strip(b"\r\n"):  # bare CRLFs are keep-alives
                self.deliver(data, Peer("UDP", str(addr[0]), int(addr[1])))

    async def send(self, data: bytes, peer: Peer) -> None:
        self.send_now(data, peer)

    def send_now(self, data: bytes, peer: Peer) -> bool:
        if self._sock is None:  # closed: a transaction's timer may still fire, and its send goes nowhere
            return True
        if self._backlog:
            self._backlog.append((data, (peer.host, peer.port)))
            return True
        try:
            self._sock.sendto(data, (peer.host, peer.port))
        except (BlockingIOError, InterruptedError):
            self._backlog.append((data, (peer.host, peer.port)))
            assert self._loop is not None
            self._loop.add_writer(self._sock.fileno(), self._writable)
        except OSError as error:  # unreachable, refused: UDP gives up silently, the timers retry
            log.info("UDP send to %s:%s failed: %s", peer.host, peer.port, error)
        return True

    def _writable(self) -> None:
        assert self._sock is not None
        assert self._loop is not None
        while self._backlog:
            data, address = self._backlog[0]
            try:
                self._sock.sendto(data, address)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                log.info("UDP send to %s:%s failed: %s", *address, error)
            self._backlog.popleft()
        self._loop.remove_writer(self._sock.fileno())

    def close(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._loop.remove_writer(self._sock.fileno())
            self._sock.close()
            self._sock = None
            self._backlog.clear()


class ConnectedTransport(Transport):
    """A connection per peer, opened on first send and read until it closes; a lost one is opened
    again by the next send. Subclasses say how to open, read, write and close one."""

    reliable = True

    def __init__(
        self, received: Received | None = None, malformed: Malformed | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(received, malformed)
        self.tls = tls
        # Set by the owner: told when a flow ends other than by close(), closed by the peer, broken,
        # or dropped as dead (RFC 5626 §4.4.1: what was registered over it must register again).
        self.flow_closed: Callable[[Peer], None] = lambda peer: None
        self._connections: dict[tuple[str, int], Any] = {}
        self._opening: dict[tuple[str, int], asyncio.Lock] = {}
        self._readers: set[asyncio.Task[None]] = set()
        self._closed = False

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
            if not self._closed:
                self.flow_closed(peer)

    async def send(self, data: bytes, peer: Peer) -> None:
        await self._write(await self._connection(peer), data)

    async def connect(self, peer: Peer) -> None:
        await self._connection(peer)

    def connected(self, peer: Peer) -> bool:
        return (peer.host, peer.port) in self._connections

    def drop(self, peer: Peer) -> None:
        """Close the flow to `peer` as dead (a keep-alive went unanswered); its owner is told."""
        connection = self._connections.get((peer.host, peer.port))
        if connection is not None:
            self._close(connection)

    def close(self) -> None:
        self._closed = True
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
        self._server: asyncio.Server | None = None

    async def listen(self, host: str, port: int) -> StreamTransport:
        """Take connections as well (a registrar or proxy: the stand-in core). Each accepted one is a
        flow like one opened: answers to its peer go back on it (RFC 3261 §18.2.2)."""
        self._server = await asyncio.start_server(self._accepted, host, port, ssl=self.tls)
        self.local = self._server.sockets[0].getsockname()[:2]
        return self

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        self._connections[(host, port)] = (reader, writer)
        await self._reading((reader, writer), Peer(self.name, host, port))

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        super().close()

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
                self.deliver(frame.encode() if isinstance(frame, str) else frame, peer)
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
