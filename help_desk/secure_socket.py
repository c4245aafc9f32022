"""The secure chat line on a conversation's socket (help_desk.secure): the asker's browser offers a
data channel, whose session goes out like a call from the holder's identity; the other side's
browser gets it as an `ims.call` and answers with `call.answer` (or declines); either ends it with
`call.hangup`. Nothing said on the line crosses this socket."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from help_desk import calls, secure
from help_desk.actions import NotYours
from help_desk.call_socket import CallMixin
from help_desk.models import HelpRequest, SecureSegment
from help_desk.sockets import Handler, why_refused
from identity_blocks.events import IMS_GROUP
from identity_blocks.holders import Holder
from ims.media import data_channel_only

Marker = Callable[[int, Holder], SecureSegment | None]


class SecureMixin(CallMixin):
    def secure_handlers(self) -> dict[str, Handler]:
        return {
            "secure.start": self.secure_start,
            "secure.verified": self.secure_verified,
            "secure.opened": self.secure_opened,
        }

    async def secure_start(self, content: dict[str, Any]) -> None:
        """The holder asks to switch: their browser's data-channel offer goes to the other side."""
        request_id, sdp = self.request_id(content), str(content.get("sdp", ""))
        if request_id is None or self.holder is None:
            await self.error(_("which request?"), content.get("ref"))
            return
        refusal = {"type": "secure.refused", "ref": content.get("ref"), "request": request_id}
        if not data_channel_only(sdp):
            await self.send_event({**refusal, "reason": _("A secure chat offers one data channel and nothing else.")})
            return
        try:
            placed = await database_sync_to_async(secure.placement)(request_id, self.holder)
        except (NotYours, calls.CallRefused, HelpRequest.DoesNotExist) as refused:
            await self.send_event({**refusal, "reason": why_refused(refused)})
            return
        key = uuid.uuid4().hex
        start = {"type": "ims.call.control", "action": "start", "call": key, "holder": self.holder.group}
        start.update(assignment=placed.assignment_id, to=placed.to, sdp=sdp)
        await self.send_event({"type": "secure.placed", "ref": content.get("ref"), "call": key, "request": request_id})
        await self.channel_layer.group_send(IMS_GROUP, start)

    async def secure_verified(self, content: dict[str, Any]) -> None:
        """The holder says the codes on the two screens match."""
        await self._mark(content, secure.mark_verified)

    async def secure_opened(self, content: dict[str, Any]) -> None:
        """The holder's browser has the line's channel open; it reports for its own side only. Its
        channel may open before the IMS side has recorded the session: that is no error, the
        browser reports again when the segment's event reaches it."""
        await self._mark(content, secure.mark_opened, early=True)

    async def _mark(self, content: dict[str, Any], mark: Marker, early: bool = False) -> None:
        request_id = self.request_id(content)
        if request_id is None or self.holder is None:
            await self.error(_("which request?"), content.get("ref"))
            return
        try:
            marked = await database_sync_to_async(mark)(request_id, self.holder)
        except (NotYours, HelpRequest.DoesNotExist):
            await self.error(_("no such conversation of yours"), content.get("ref"))
            return
        if marked is None and not early:
            await self.error(_("no secure chat of yours is open"), content.get("ref"))

    async def secure_segment(self, event: dict[str, Any]) -> None:
        """The conversation's secure line started or ended (its group's event)."""
        await self.send_event(event)
