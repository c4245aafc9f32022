"""WebSocket consumers of the browser client (WIC)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from help_desk import frames
from help_desk.sockets import EventConsumer, Handler
from identity_blocks import actions as identity_actions
from identity_blocks import events as identity_events
from identity_blocks import sessions as identity_sessions
from identity_blocks.events import IMS_GROUP
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from ims import actions as ims_actions
from ims import direct_calls
from portal import turn


def current_identity(holder: Holder) -> dict[str, Any] | None:
    assignment = IdentityAssignment.objects.live().of(holder).first()
    return identity_events.describe(assignment) if assignment is not None else None


def told(event: dict[str, Any]) -> dict[str, Any]:
    """An `ims.call` event as this socket passes it on: an ending's `reason` stays the code the
    browser acts on, and `says` is the IMS side's English words for it in the socket's language."""
    if event.get("state") == "ended" and event.get("reason"):
        return {**event, "says": _(str(event["reason"]))}
    return event


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


class HolderConsumer(EventConsumer):
    """A browser session of a holder: it joins the holder's group and counts as an open session
    (an inbound MESSAGE or call to the holder's identity needs one)."""

    holder: Holder | None = None

    # Direct calls this socket placed or answered: they end with it (a closed window carries no
    # call); and the timers that end those it placed when nobody answers.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.carried: set[str] = set()
        self.ring_timers: dict[str, asyncio.Task[None]] = {}

    async def join(self, holder: Holder) -> None:
        self.holder = holder
        await self.channel_layer.group_add(holder.group, self.channel_name)
        await database_sync_to_async(identity_actions.session_opened)(holder, self.channel_name)
        identity_sessions.opened(self.channel_name, holder)  # this process vouches for it from now on

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        """Only a socket past its authorization gets here: its ICE servers come first, when any are
        configured, so a call can start at once (portal.turn)."""
        await super().accept(subprotocol, headers)
        event = turn.ice_event(self.holder) if self.holder is not None else None
        if event is not None and (event["servers"] or event["policy"] != "all"):
            await self.send_event(event)

    def all_handlers(self) -> dict[str, Handler]:
        return {"ice.refresh": self.ice_refresh, **self.handlers()}

    async def ice_refresh(self, content: dict[str, Any]) -> None:
        """Any holder socket, for long calls."""
        if self.holder is not None:
            await self.send_event({**turn.ice_event(self.holder), "ref": content.get("ref")})

    async def disconnect(self, code: int) -> None:
        if self.holder is not None:
            for timer in self.ring_timers.values():
                timer.cancel()
            if self.carried:
                await database_sync_to_async(direct_calls.abandon)(self.holder, self.carried)
            identity_sessions.closed(self.channel_name)
            await self.channel_layer.group_discard(self.holder.group, self.channel_name)
            await database_sync_to_async(identity_actions.session_closed)(self.holder, self.channel_name)

    async def call_control(self, content: dict[str, Any]) -> None:
        """A direct call's here, where only its two sides may act on it; any other to whichever
        IMS-side process holds the call, which checks the call is this holder's."""
        assert self.holder is not None
        action, key, sdp = (
            str(content["type"]).removeprefix("call."),
            str(content.get("call", "")),
            str(content.get("sdp", "")),
        )
        try:
            direct = await database_sync_to_async(direct_calls.control)(self.holder, key, action, sdp)
        except direct_calls.DirectRefused as refused:
            await self.error(str(refused), content.get("ref"))
            return
        if direct:
            self._carry(key, action)
            return
        event = {"type": "ims.call.control", "call": key, "action": action, "holder": self.holder.group, "sdp": sdp}
        if content.get("reason"):  # a hang-up on a media failure (ims.release)
            event["reason"] = str(content["reason"])
        await self.channel_layer.group_send(IMS_GROUP, event)

    def _carry(self, key: str, action: str) -> None:
        if action in ("start", "answer"):
            self.carried.add(key)
        elif action in ("hangup", "decline"):
            self.carried.discard(key)
            timer = self.ring_timers.pop(key, None)
            if timer is not None:
                timer.cancel()

    async def place_direct(self, to: str, key: str, sdp: str) -> bool:
        """A call to a colleague's identity, rung directly (ims.direct_calls); False for any other."""
        assert self.holder is not None
        if not await database_sync_to_async(direct_calls.place)(self.holder, to, key, sdp):
            return False
        self._carry(key, "start")
        self.ring_timers[key] = asyncio.get_running_loop().create_task(self._ring_out(key))
        return True

    async def _ring_out(self, key: str) -> None:
        await asyncio.sleep(direct_calls.RING_SECONDS)
        self.ring_timers.pop(key, None)
        await database_sync_to_async(direct_calls.ring_out)(key)

    async def call_quality(self, content: dict[str, Any]) -> None:
        """The browser's summary of a call it held (getStats), kept with the call's record."""
        summary = content.get("summary")
        if self.holder is None or not isinstance(summary, dict):
            await self.error(_("a summary is an object"), content.get("ref"))
            return
        call = str(content.get("call", ""))
        if not await database_sync_to_async(ims_actions.call_quality)(call, self.holder, summary):
            await self.error(_("no such call of yours"), content.get("ref"))

    async def send_identity(self) -> None:
        """Whatever changed before this socket joined (or while it was away) starts from here."""
        assert self.holder is not None
        current = await database_sync_to_async(current_identity)(self.holder)
        if current is not None:
            await self.send_event({"type": "identity.changed", **current})


class ClientConsumer(HolderConsumer):
    """One browser session: identity state, pager messages and calls, live."""

    forwarded = frozenset({"identity.changed", "identity.waiting", "ims.message"})
    schemas = frames.CLIENT

    async def connect(self) -> None:
        holder = holder_of(self.scope)
        if holder is None:
            await self.close(code=4401)  # before accept: the handshake is refused
            return
        await self.join(holder)
        await self.channel_layer.group_add(holder.pager_group, self.channel_name)
        await self.accept()
        await self.send_identity()

    async def disconnect(self, code: int) -> None:
        if self.holder is not None:
            await self.channel_layer.group_discard(self.holder.pager_group, self.channel_name)
        await super().disconnect(code)

    async def ims_call(self, event: dict[str, Any]) -> None:
        await self.send_event(told(event))

    def handlers(self) -> dict[str, Handler]:
        return {
            "message.send": self.message_send,
            "call.start": self.call_start,
            "call.quality": self.call_quality,
            **{f"call.{action}": self.call_control for action in frames.CALL_CONTROLS},
        }

    async def message_send(self, content: dict[str, Any]) -> None:
        assert self.holder is not None
        to = str(content.get("to", "")).strip()
        try:
            await database_sync_to_async(ims_actions.start_allowed)(self.holder, to, "message")
            message = await database_sync_to_async(ims_actions.send_message)(
                self.holder, to, str(content.get("body", ""))
            )
        except ims_actions.MessageRefused as refused:
            await self.error(str(refused), content.get("ref"))
            return
        await self.send_event({"type": "message.queued", "ref": content.get("ref"), "id": message.pk})

    async def call_start(self, content: dict[str, Any]) -> None:
        """Place a call from the holder's identity; the answer comes back as `ims.call` events."""
        assert self.holder is not None
        to = str(content.get("to", "")).strip()
        try:
            await database_sync_to_async(ims_actions.start_allowed)(self.holder, to, "call")
        except ims_actions.MessageRefused as refused:
            await self.error(str(refused), content.get("ref"))
            return
        current = await database_sync_to_async(current_identity)(self.holder)
        if current is None or not current["live"]:
            await self.error(_("you have no IMS identity yet"), content.get("ref"))
            return
        key, sdp = uuid.uuid4().hex, str(content.get("sdp", ""))
        if await self.place_direct(to, key, sdp):  # a colleague: browser to browser, not through the IMS
            await self.send_event({"type": "call.placed", "ref": content.get("ref"), "call": key, "media": "direct"})
            return
        event = {"type": "ims.call.control", "action": "start", "call": key, "to": to, "holder": self.holder.group}
        event.update(assignment=current["assignment"], sdp=sdp)
        await self.channel_layer.group_send(IMS_GROUP, event)
        await self.send_event({"type": "call.placed", "ref": content.get("ref"), "call": key})
