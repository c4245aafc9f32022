"""A chat client speaking the portal's WebSocket protocol as the browser's chat.js does: it keeps
the last sequence it has, resumes after it on reconnect, and resends what was not yet accepted
under the same client id. Used to test that nothing is lost or shown twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from http.cookiejar import CookieJar
from typing import Any
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

import websockets
from websockets.typing import Origin


class Browser:
    """Cookies and CSRF, as a browser keeps them, for the form posts a person makes."""

    def __init__(self, base: str) -> None:
        self.base, self.jar = base, CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> str:
        return str(self.opener.open(self.base + path).read().decode())

    def post(self, path: str, form_path: str, fields: dict[str, str]) -> str:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(form_path))
        assert token is not None
        data = urlencode({"csrfmiddlewaretoken": token[1], **fields}).encode()
        request = Request(self.base + path, data=data, headers={"Referer": self.base + form_path})  # noqa: S310
        return str(self.opener.open(request).geturl())

    @property
    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


class ChatClient:
    def __init__(self, browser: Browser, path: str, request_id: int | None = None) -> None:
        self.browser, self.path, self.request_id = browser, path, request_id
        self.seen: dict[int, dict[str, Any]] = {}
        self.pending: dict[str, str] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.socket: Any = None
        self.reader: asyncio.Task[None] | None = None

    @property
    def last_seq(self) -> int:
        """The end of the unbroken run from 1: numbered messages can arrive out of order, and
        resuming after a later one would skip a gap for good."""
        seq = 0
        while seq + 1 in self.seen:
            seq += 1
        return seq

    def _frame(self, event: dict[str, Any]) -> str:
        if self.request_id is not None:
            event = {"request": self.request_id, **event}
        return json.dumps(event)

    async def connect(self) -> None:
        url = self.browser.base.replace("http", "ws", 1) + self.path
        self.socket = await websockets.connect(
            url, origin=Origin(self.browser.base), additional_headers={"Cookie": self.browser.cookie}
        )
        self.reader = asyncio.create_task(self._read(self.socket))
        if self.request_id is not None or "/ws/help/" in self.path:
            await self.socket.send(self._frame({"type": "chat.resume", "after": self.last_seq}))
            for client_id, body in list(self.pending.items()):
                await self.socket.send(self._frame({"type": "chat.send", "client_id": client_id, "body": body}))

    async def _read(self, socket: Any) -> None:
        try:
            async for frame in socket:
                event = json.loads(frame)
                if event["type"] == "chat.message" and event["message"]["seq"]:
                    message = event["message"]
                    self.seen.setdefault(message["seq"], message)
                    self.pending.pop(message["client_id"], None)
                await self.events.put(event)
        except websockets.ConnectionClosed:
            pass

    async def send(self, body: str) -> None:
        client_id = uuid.uuid4().hex
        self.pending[client_id] = body
        with contextlib.suppress(websockets.ConnectionClosed):  # resent on reconnect
            await self.socket.send(self._frame({"type": "chat.send", "client_id": client_id, "body": body}))

    async def drop(self) -> None:
        """The network goes away: no closing handshake."""
        self.socket.transport.abort()
        if self.reader is not None:
            await asyncio.wait([self.reader], timeout=2)

    async def next_event(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        while True:
            event = await asyncio.wait_for(self.events.get(), timeout)
            if event["type"] == kind:
                return event

    async def close(self) -> None:
        await self.socket.close()
