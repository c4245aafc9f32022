"""Calls on a conversation's socket (the help page, the desk): placed from the holder's identity
through the IMS, controlled by the holder's browser, their events tagged with the conversation."""

from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from help_desk import calls
from help_desk.actions import NotYours
from help_desk.consumers import HolderConsumer, told
from help_desk.frames import CALL_CONTROLS
from help_desk.models import HelpRequest
from help_desk.sockets import Handler, why_refused
from identity_blocks.events import IMS_GROUP
from identity_blocks.holders import Holder


class CallMixin(HolderConsumer):
    def request_id(self, content: dict[str, Any]) -> int | None:
        raise NotImplementedError

    def call_handlers(self) -> dict[str, Handler]:
        controls = {f"call.{action}": self.call_control for action in CALL_CONTROLS}
        return {"call.start": self.call_start, "call.quality": self.call_quality, **controls}

    async def call_start(self, content: dict[str, Any]) -> None:
        """Audio, or video where the agreement allows, from this side to the other."""
        request_id = self.request_id(content)
        if request_id is None or self.holder is None:
            await self.error(_("which request?"), content.get("ref"))
            return
        video = content.get("video") is True
        try:
            placed = await database_sync_to_async(calls.placement)(request_id, self.holder, video)
        except (NotYours, calls.CallRefused, HelpRequest.DoesNotExist) as refused:
            refusal = {
                "type": "call.refused",
                "ref": content.get("ref"),
                "request": request_id,
                "reason": why_refused(refused),
            }
            await self.send_event(refusal)
            return
        key = uuid.uuid4().hex
        start = {"type": "ims.call.control", "action": "start", "call": key, "holder": self.holder.group}
        start.update(assignment=placed.assignment_id, to=placed.to, sdp=str(content.get("sdp", "")))
        await self.send_event({"type": "call.placed", "ref": content.get("ref"), "call": key, "request": request_id})
        await self.channel_layer.group_send(IMS_GROUP, start)

    async def join(self, holder: Holder) -> None:
        """The holder's pager messages too: those outside a conversation are shown as notices."""
        await super().join(holder)
        await self.channel_layer.group_add(holder.pager_group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        if self.holder is not None:
            await self.channel_layer.group_discard(self.holder.pager_group, self.channel_name)
        await super().disconnect(code)

    async def ims_call(self, event: dict[str, Any]) -> None:
        """A call of the holder's identity: to the page, with the conversation it belongs to, or
        with none (a colleague's call, one from the IMS): every window of theirs rings for it."""
        if self.holder is None:
            return
        conversation = await database_sync_to_async(calls.conversation_of)(
            self.holder, str(event.get("caller", "")), str(event.get("callee", ""))
        )
        await self.send_event({**told(event), "request": conversation})

    async def ims_message(self, event: dict[str, Any]) -> None:
        """A message to the holder's identity that is no conversation's chat (which this page
        shows as chat): to the page, which shows it with a way to the communications page."""
        message = event.get("message") or {}
        if self.holder is None or message.get("direction") != "in" or message.get("taken"):
            return
        await self.send_event(event)
