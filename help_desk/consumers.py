"""WebSocket consumers of the browser client (WIC)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from identity_blocks import actions as identity_actions
from identity_blocks import events as identity_events
from identity_blocks.events import IMS_GROUP
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from ims import actions as ims_actions
from ims.sip.uri import InvalidUri, parse_uri

MAX_FRAME = 64 * 1024


def _current_identity(holder: Holder) -> dict[str, Any] | None:
    assignment = IdentityAssignment.objects.live().of(holder).first()
    return identity_events.describe(assignment) if assignment is not None else None


def holder_of(scope: dict[str, Any]) -> Holder | None:
    """The logged-in user, or the guest whose key the help page put in the session."""
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return Holder.member(user)
    key = scope["session"].get("guest_key") if scope.get("session") else None
    try:
        return Holder.guest(key) if key else None
    except ValueError:
        return None


class ClientConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """One browser session: identity state and pager messages, live. Events are JSON objects with a
    `type`; a frame the consumer cannot use gets an `error` event and the socket stays open."""

    holder: Holder | None = None

    async def connect(self) -> None:
        holder = holder_of(self.scope)
        if holder is None:
            await self.close(code=4401)  # before accept: the handshake is refused
            return
        self.holder = holder
        await self.channel_layer.group_add(holder.group, self.channel_name)
        await database_sync_to_async(identity_actions.session_opened)(holder, self.channel_name)
        await self.accept()
        # Whatever changed before this socket joined (or while it was away) starts from here.
        current = await database_sync_to_async(_current_identity)(holder)
        if current is not None:
            await self.send(text_data=json.dumps({"type": "identity.changed", **current}))

    async def disconnect(self, code: int) -> None:
        if self.holder is not None:
            await self.channel_layer.group_discard(self.holder.group, self.channel_name)
            await database_sync_to_async(identity_actions.session_closed)(self.holder, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME:
            await self._error("frames are JSON text up to 64 KiB")
            return
        try:
            content = json.loads(text_data)
        except json.JSONDecodeError:
            await self._error("the frame is not JSON")
            return
        if not isinstance(content, dict):
            await self._error("the frame is not a JSON object")
            return
        handler = {
            "message.send": self.message_send,
            "call.start": self.call_start,
            "call.answer": self.call_control,
            "call.decline": self.call_control,
            "call.hangup": self.call_control,
        }.get(str(content.get("type")))
        if handler is None:
            await self._error(f"unknown event type {content.get('type')!r}", content.get("ref"))
            return
        await handler(content)

    async def _error(self, reason: str, ref: Any = None) -> None:
        await self.send(text_data=json.dumps({"type": "error", "reason": reason, "ref": ref}))

    async def message_send(self, content: dict[str, Any]) -> None:
        assert self.holder is not None
        try:
            message = await database_sync_to_async(ims_actions.send_message)(
                self.holder, str(content.get("to", "")), str(content.get("body", ""))
            )
        except ims_actions.MessageRefused as refused:
            await self._error(str(refused), content.get("ref"))
            return
        await self.send(text_data=json.dumps({"type": "message.queued", "ref": content.get("ref"), "id": message.pk}))

    async def call_start(self, content: dict[str, Any]) -> None:
        """Place a call from the holder's identity; the answer comes back as `ims.call` events."""
        assert self.holder is not None
        to = str(content.get("to", "")).strip()
        try:
            parse_uri(to)
        except InvalidUri as error:
            await self._error(str(error), content.get("ref"))
            return
        current = await database_sync_to_async(_current_identity)(self.holder)
        if current is None or not current["live"]:
            await self._error("you have no IMS identity yet", content.get("ref"))
            return
        key = uuid.uuid4().hex
        event = {"type": "ims.call.control", "action": "start", "call": key, "to": to, "holder": self.holder.group}
        event.update(assignment=current["assignment"], sdp=str(content.get("sdp", "")))
        await self.channel_layer.group_send(IMS_GROUP, event)
        await self.send(text_data=json.dumps({"type": "call.placed", "ref": content.get("ref"), "call": key}))

    async def call_control(self, content: dict[str, Any]) -> None:
        """To whichever IMS-side process holds the call; it checks the call is this holder's."""
        assert self.holder is not None
        action = str(content["type"]).removeprefix("call.")
        event = {"type": "ims.call.control", "call": str(content.get("call", "")), "action": action}
        event.update(holder=self.holder.group, sdp=str(content.get("sdp", "")))
        await self.channel_layer.group_send(IMS_GROUP, event)

    # Events from the channel layer, passed on as they are.
    async def identity_changed(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event))

    async def identity_waiting(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event))

    async def ims_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event))

    async def ims_call(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event))
