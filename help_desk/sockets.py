"""The base of the browser client's consumers: JSON events with a `type`, one handler each; a
frame that cannot be used gets an `error` event and the socket stays open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from portal.layer import PipelinedPubSubChannelLayer

MAX_FRAME = 64 * 1024
Handler = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _pump(receive: Receive, inbox: asyncio.Queue[Any]) -> None:
    """What the browser sends, into the socket's one queue; a failure goes there too, to be raised."""
    try:
        while True:
            inbox.put_nowait(await receive())
    except Exception as error:
        inbox.put_nowait(error)


class EventConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    # Channel-layer event types passed on to the browser exactly as they come.
    forwarded: ClassVar[frozenset[str]] = frozenset()

    def handlers(self) -> dict[str, Handler]:
        return {}

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Channels' consumer loop with one queue for both sources of events: the layer's queue
        for this socket's channel, into which a small task also puts what the browser sends, in
        the order it comes. Channels waits on the two with asyncio.wait and a fresh task per event,
        about five times the work of taking from one queue: with two sockets' events per chat
        message, 8 % of the event loop's time in the chat benchmark. One event is handled at a
        time, as in Channels."""
        layer = get_channel_layer(self.channel_layer_alias)
        if not isinstance(layer, PipelinedPubSubChannelLayer):  # the demo's in-memory layer
            await super().__call__(scope, receive, send)
            return
        self.scope, self.channel_layer, self.base_send = scope, layer, send
        self.channel_name = await layer.new_channel()
        inbox = layer.inbox(self.channel_name)
        pump = asyncio.create_task(_pump(receive, inbox))
        try:
            while True:
                item = await inbox.get()
                if isinstance(item, Exception):
                    raise item
                await self.dispatch(layer.deserialize(item) if isinstance(item, bytes) else item)
        except StopConsumer:
            pass
        finally:
            pump.cancel()
            await layer.discard_channel(self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        kind = str(message.get("type", ""))
        if kind in self.forwarded:
            await self.send_event(message)
        elif kind.startswith("websocket.") or hasattr(self, kind.replace(".", "_")):
            # Not super().dispatch: since Channels 4.2 it hops to a thread to close stale database
            # connections before every frame, which database_sync_to_async does anyway around
            # each database call; that hop was a quarter of a bare relay's CPU.
            handler = getattr(self, get_handler_name(message), None)
            if handler is None:
                raise ValueError(f"No handler for message type {kind}")
            await handler(message)
        # Else an event of a group this socket is in that it has no use for (a conversation
        # socket hears its holder's pager messages, say): dropped. A socket never dies of one.

    async def send_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event))

    async def error(self, reason: str, ref: Any = None) -> None:
        await self.send_event({"type": "error", "reason": reason, "ref": ref})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME:
            await self.error("frames are JSON text up to 64 KiB")
            return
        try:
            content = json.loads(text_data)
        except json.JSONDecodeError:
            await self.error("the frame is not JSON")
            return
        if not isinstance(content, dict):
            await self.error("the frame is not a JSON object")
            return
        handler = self.handlers().get(str(content.get("type")))
        if handler is None:
            await self.error(f"unknown event type {content.get('type')!r}", content.get("ref"))
            return
        try:
            await handler(content)
        except (TypeError, ValueError):  # a field of the wrong kind ("after": "x"): the frame's fault
            await self.error("malformed event", content.get("ref"))
