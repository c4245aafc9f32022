"""A bare group relay: no auth, no storage. It exists as a baseline.

The benchmarks compare the portal's chat against it, and the multi-process test uses it to show
that sockets on different ASGI processes meet through the shared channel layer. It is off unless
RELAY_BASELINE is set, since it lets anyone talk to anyone in a room.
"""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

MAX_FRAME = 16384


class RelayConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    group: str

    async def connect(self) -> None:
        self.group = "relay." + self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME:
            await self.send(text_data='{"type":"error","reason":"text frames up to 16 KiB only"}')
            return
        await self.channel_layer.group_send(
            self.group, {"type": "relay.message", "text": text_data, "sender": self.channel_name}
        )

    async def relay_message(self, event: dict[str, Any]) -> None:
        if event["sender"] != self.channel_name:
            await self.send(text_data=event["text"])
