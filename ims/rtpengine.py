"""A client of rtpengine's NG control protocol, by which the IMS side drives the media gateway
(eIMS-AGW): `offer`, `answer`, `delete`, `query` and `ping`.

Each request is one UDP datagram, `<cookie> <bencoded dictionary>`; rtpengine answers with the same
cookie. A lost datagram (either way) is sent again once, under the same cookie: rtpengine keeps
the answers to recent cookies and repeats one instead of acting twice.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import bencodepy
from django.conf import settings

TIMEOUT_SECONDS = 1.0  # loopback or a LAN: rtpengine answers in milliseconds
ATTEMPTS = 2  # the first send and one retry
# Text both ways: rtpengine's strings (SDP, flags, reasons) are UTF-8. Its answers' keys are not
# sorted, so a decoder that insists on canonical bencode (fastbencode's) refuses them.
_BENCODE = bencodepy.Bencode(encoding="utf-8", encoding_fallback="value")


_local: tuple[str, int] | None = None  # the demo's own rtpengine, when manage.py serve started one


def use_local_gateway(address: tuple[str, int]) -> None:
    """The demo's rtpengine (manage.py serve), used where IMS_RTPENGINE_NG names none."""
    global _local
    _local = address


class RtpEngineError(Exception):
    """rtpengine could not do what was asked; the message says why, for a person to read."""


class RtpEngineUnreachable(RtpEngineError):
    """No answer, or nothing listening where rtpengine was said to be."""


class _Answers(asyncio.DatagramProtocol):
    def __init__(self, waiting: dict[bytes, asyncio.Future[bytes]], where: str) -> None:
        self.waiting, self.where = waiting, where

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        cookie, _, body = data.partition(b" ")
        future = self.waiting.get(cookie)
        if future is not None and not future.done():
            future.set_result(body)

    def error_received(self, exc: Exception) -> None:
        """An ICMP error on the connected socket: nothing listens there, no use waiting."""
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(RtpEngineUnreachable(f"rtpengine at {self.where} is not reachable ({exc})"))


class RtpEngine:
    def __init__(
        self, host: str, port: int, *, timeout: float = TIMEOUT_SECONDS, attempts: int = ATTEMPTS
    ) -> None:  # fmt: skip
        self.address, self.timeout, self.attempts = (host, port), timeout, attempts
        self.where = f"{host}:{port}"
        self.waiting: dict[bytes, asyncio.Future[bytes]] = {}
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    def from_settings(cls) -> RtpEngine | None:
        """None when no gateway is configured (IMS_RTPENGINE_NG empty) and the demo runs none."""
        address: tuple[str, int] | None = settings.IMS_RTPENGINE_NG or _local
        return None if address is None else cls(*address)

    async def _socket(self) -> asyncio.DatagramTransport:
        if self.transport is None or self.transport.is_closing():
            loop = asyncio.get_running_loop()
            self.transport, _ = await loop.create_datagram_endpoint(
                lambda: _Answers(self.waiting, self.where), remote_addr=self.address
            )
        return self.transport

    async def request(self, command: str, **fields: Any) -> dict[str, Any]:
        """The answer's dictionary; raises RtpEngineError when rtpengine says `error` or never answers."""
        cookie = secrets.token_hex(8).encode()
        datagram = cookie + b" " + _BENCODE.encode({"command": command, **fields})
        try:
            body = await self._exchange(cookie, datagram)
        except OSError as error:
            raise RtpEngineUnreachable(f"rtpengine at {self.where} is not reachable ({error})") from error
        try:
            answer: dict[str, Any] = dict(_BENCODE.decode(body))
        except (bencodepy.BencodeDecodeError, ValueError, TypeError) as error:
            raise RtpEngineError(f"rtpengine at {self.where} answered {command} unreadably") from error
        if answer.get("result") == "error":
            raise RtpEngineError(f"rtpengine refused {command}: {answer.get('error-reason', 'no reason given')}")
        return answer

    async def _exchange(self, cookie: bytes, datagram: bytes) -> bytes:
        for _ in range(self.attempts):
            future = self.waiting[cookie] = asyncio.get_running_loop().create_future()
            try:
                (await self._socket()).sendto(datagram)
                return await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                continue
            finally:
                self.waiting.pop(cookie, None)
        raise RtpEngineUnreachable(
            f"rtpengine at {self.where} did not answer within {self.attempts * self.timeout:g} s"
        )

    async def ping(self) -> None:
        answer = await self.request("ping")
        if answer.get("result") != "pong":
            raise RtpEngineError(f"rtpengine at {self.where} answered ping with {answer.get('result')!r}")

    async def offer(self, call_id: str, from_tag: str, sdp: str, **options: Any) -> str:
        """The offer as the other side is to see it, media anchored at rtpengine."""
        answer = await self.request("offer", **{"call-id": call_id, "from-tag": from_tag, "sdp": sdp}, **options)
        return str(answer["sdp"])

    async def answer(self, call_id: str, from_tag: str, to_tag: str, sdp: str, **options: Any) -> str:
        """`from_tag` is the offerer's, `to_tag` the answerer's."""
        fields = {"call-id": call_id, "from-tag": from_tag, "to-tag": to_tag, "sdp": sdp}
        answer = await self.request("answer", **fields, **options)
        return str(answer["sdp"])

    async def delete(self, call_id: str) -> None:
        await self.request("delete", **{"call-id": call_id})

    async def query(self, call_id: str) -> dict[str, Any]:
        """The call's state and statistics (per tag: media, codecs, packets)."""
        return await self.request("query", **{"call-id": call_id})

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
