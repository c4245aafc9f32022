"""The base of the browser client's consumers: Channels' JSON consumer, with one handler per
event `type`. A frame that cannot be used gets an `error` event and the socket stays open."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from channels.generic.websocket import AsyncJsonWebsocketConsumer

MAX_FRAME = 64 * 1024
Handler = Callable[[dict[str, Any]], Awaitable[None]]


class UnusableFrame(ValueError):
    """A frame that is not a JSON object of at most MAX_FRAME characters."""


class EventConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    # Channel-layer event types passed on to the browser exactly as they come.
    forwarded: ClassVar[frozenset[str]] = frozenset()

    def handlers(self) -> dict[str, Handler]:
        return {}

    async def dispatch(self, message: dict[str, Any]) -> None:
        kind = str(message.get("type", ""))
        if kind in self.forwarded:
            await self.send_event(message)
        elif kind.startswith("websocket.") or hasattr(self, kind.replace(".", "_")):
            await super().dispatch(message)
        # Else an event of a group this socket is in that it has no use for (a conversation
        # socket hears its holder's pager messages, say): dropped. A socket never dies of one.

    async def send_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def error(self, reason: str, ref: Any = None) -> None:
        await self.send_event({"type": "error", "reason": reason, "ref": ref})

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        if len(text_data) > MAX_FRAME:
            raise UnusableFrame("frames are JSON text up to 64 KiB")
        try:
            content = json.loads(text_data, parse_constant=_no_constant)
        except (json.JSONDecodeError, RecursionError, ValueError):
            raise UnusableFrame("the frame is not JSON") from None
        if not isinstance(content, dict):
            raise UnusableFrame("the frame is not a JSON object")
        return content

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            await self.error("frames are JSON text up to 64 KiB")
            return
        try:
            await super().receive(text_data=text_data, **kwargs)
        except UnusableFrame as unusable:
            await self.error(str(unusable))

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        handler = self.handlers().get(str(content.get("type")))
        if handler is None:
            await self.error(f"unknown event type {content.get('type')!r}", content.get("ref"))
            return
        try:
            await handler(content)
        except (TypeError, ValueError, OverflowError):  # a field of the wrong kind ("after": "x")
            await self.error("malformed event", content.get("ref"))


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON: refused like any other malformed frame."""
    raise ValueError(f"{name} is not JSON")
