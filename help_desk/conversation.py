"""The customer's socket for one request, and the advisor's desk socket for all of theirs."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from help_desk import actions, chat, events, frames, routing_actions
from help_desk import presence as presence_actions
from help_desk.consumers import current_identity, holder_of
from help_desk.models import Advisor, ChatMessage, HelpRequest, RequestStatus
from help_desk.secure_socket import SecureMixin
from help_desk.sockets import Handler, why_refused
from identity_blocks.holders import Holder
from portal.batching import Batcher
from portal.said import spoken

# Every socket's chat.send in this process goes through one group commit.
POSTING: Batcher[chat.Post, ChatMessage] = Batcher(chat.post_messages)
CHAT_EVENTS = frozenset({"help.request", "chat.message", "chat.read", "chat.typing"})


def _request_for(request_id: int, holder: Holder) -> HelpRequest | None:
    request = HelpRequest.objects.select_related("advisor__user", "queue__agreement").filter(pk=request_id).first()
    if request is None:
        return None
    try:
        chat.side_of(request, holder)
    except actions.NotYours:
        return None
    return request


class ChatMixin(SecureMixin):
    """chat.send / chat.retry / chat.resume / chat.read / chat.typing for a request this socket may use."""

    def request_id(self, content: dict[str, Any]) -> int | None:
        raise NotImplementedError

    def chat_handlers(self) -> dict[str, Handler]:
        return {
            "chat.send": self.chat_send,
            "chat.retry": self.chat_retry,
            "chat.resume": self.chat_resume,
            "chat.read": self.chat_read,
            "chat.typing": self.chat_typing,
        }

    async def _call(self, content: dict[str, Any], function: Any, *args: Any) -> Any:
        """Run a chat action for the frame's request; refusals become error events."""
        request_id = self.request_id(content)
        if request_id is None:
            await self.error(_("which request?"), content.get("ref"))
            return None
        return await self._answer(content, database_sync_to_async(function)(request_id, self.holder, *args))

    async def _answer(self, content: dict[str, Any], pending: Awaitable[Any]) -> Any:
        try:
            return await pending
        except (actions.NotYours, chat.ChatRefused, HelpRequest.DoesNotExist) as refused:
            await self.error(why_refused(refused), content.get("ref"))
        except (TypeError, ValueError):
            await self.error(_("malformed event"), content.get("ref"))
        return None

    async def chat_send(self, content: dict[str, Any]) -> None:
        request_id = self.request_id(content)
        if request_id is None or self.holder is None:
            await self.error(_("which request?"), content.get("ref"))
            return
        post = chat.Post(request_id, self.holder, str(content.get("body", "")), str(content.get("client_id", "")))
        sent = await self._answer(content, POSTING.submit(post))
        # A message numbered at once reaches both sides as chat.message, which is its acceptance;
        # one still crossing the IMS is acknowledged now and numbered when it arrives.
        if sent is not None and sent.seq is None:
            await self.send_event({"type": "chat.accepted", "ref": content.get("ref"), "client_id": sent.client_id})

    async def chat_retry(self, content: dict[str, Any]) -> None:
        """Send again one of this side's messages that was not delivered; it shows as sending."""
        await self._call(content, chat.retry_message, str(content.get("client_id", "")))

    async def chat_resume(self, content: dict[str, Any]) -> None:
        """Everything numbered after `after`, in order, and which of its `pending` messages failed:
        a reconnecting client misses nothing, nor one whose socket stayed open while events were
        lost (Redis restarting), as it asks again every little while."""
        pending = content.get("pending")
        pending = pending if isinstance(pending, list) else []
        missed = await self._call(content, chat.messages_after, int(content.get("after") or 0), pending)
        if missed is None:
            return
        for message in missed:
            await self.send_event(
                {"type": "chat.message", "request": message.request_id, "message": events.message(message)}
            )
        await self.send_event({"type": "chat.resumed", "request": self.request_id(content), "ref": content.get("ref")})

    async def chat_read(self, content: dict[str, Any]) -> None:
        await self._call(content, chat.mark_read, int(content.get("up_to") or 0))

    async def chat_typing(self, content: dict[str, Any]) -> None:
        request_id = self.request_id(content)
        if request_id is not None and await database_sync_to_async(_request_for)(request_id, self.holder):
            typing = {"type": "chat.typing", "request": request_id, "from_advisor": self.holder != self.customer}
            await self.channel_layer.group_send(events.request_group(request_id), typing)

    customer: Holder | None = None


class HelpConsumer(ChatMixin):
    """/ws/help/<request>/: the customer's page for one request."""

    forwarded = CHAT_EVENTS | {"help.position", "identity.changed"}
    schemas = frames.HELP

    async def connect(self) -> None:
        holder = holder_of(self.scope)
        request_id = int(self.scope["url_route"]["kwargs"]["request_id"])
        request = await database_sync_to_async(_request_for)(request_id, holder) if holder else None
        if holder is None or request is None or (request.advisor_id and holder.user_id == request.advisor.user_id):
            await self.close(code=4403)
            return
        self.request_pk, self.customer = request_id, holder
        await self.channel_layer.group_add(events.request_group(request_id), self.channel_name)
        await self.join(holder)
        # After join: the process's heartbeat vouches for the socket from then on.
        await database_sync_to_async(presence_actions.page_opened)(request_id, self.channel_name)
        await self.accept()
        described = await database_sync_to_async(events.describe)(request)
        await self.send_event({"type": "help.request", "request": described})
        if request.status in (RequestStatus.WAITING, RequestStatus.RINGING):
            place = await database_sync_to_async(actions.position)(request)
            wait = await database_sync_to_async(actions.expected_wait)(request.queue, place)
            await self.send_event({"type": "help.position", "position": place, "expected_wait": wait})

    async def disconnect(self, code: int) -> None:
        if getattr(self, "request_pk", None) is not None:
            await self.channel_layer.group_discard(events.request_group(self.request_pk), self.channel_name)
            await database_sync_to_async(presence_actions.page_closed)(self.request_pk, self.channel_name)
        await super().disconnect(code)

    def request_id(self, content: dict[str, Any]) -> int | None:
        return int(self.request_pk)

    def handlers(self) -> dict[str, Handler]:
        return {**self.chat_handlers(), **self.call_handlers(), **self.secure_handlers(), "help.leave": self.leave}

    async def leave(self, content: dict[str, Any]) -> None:
        await database_sync_to_async(actions.close_request)(self.request_pk)


def _line(queue_ids: list[int]) -> list[dict[str, Any]]:
    waiting = HelpRequest.objects.filter(queue_id__in=queue_ids).waiting()
    return [events.in_line(r) for r in waiting.select_related("user", "ringing_advisor__user")[:200]]


def _desk_state(advisor: Advisor, queue_ids: list[int]) -> dict[str, Any]:
    mine = HelpRequest.objects.select_related("queue__agreement", "advisor__user").filter(
        advisor=advisor, status=RequestStatus.ACTIVE
    )
    ringing = HelpRequest.objects.select_related("queue__agreement").filter(
        ringing_advisor=advisor, status=RequestStatus.RINGING
    )
    return {
        "type": "desk.state",
        "presence": advisor.presence,
        "conversations": [events.describe(r) for r in mine],
        "ringing": [events.describe(r) for r in ringing],
        "line": _line(queue_ids),
    }


class DeskConsumer(ChatMixin):
    """/ws/desk/: an advisor's dashboard: presence, rings, and every conversation of theirs."""

    forwarded = CHAT_EVENTS | {
        "help.ringing",
        "help.ring_over",
        "help.line",
        "help.inbox",
        "identity.changed",
    }
    schemas = frames.DESK
    advisor: Advisor
    desk_of: int | None = None  # the advisor's id, once the desk counts as open
    queue_ids: list[int]

    async def connect(self) -> None:
        user = self.scope.get("user")
        authenticated = user is not None and user.is_authenticated
        advisor = await database_sync_to_async(Advisor.objects.filter(user=user).first)() if authenticated else None
        if advisor is None:
            await self.close(code=4403)
            return
        self.advisor = advisor
        await self.channel_layer.group_add(events.advisor_group(advisor.pk), self.channel_name)
        self.queue_ids = await database_sync_to_async(routing_actions.queues_of)(advisor.pk)
        for queue_id in self.queue_ids:
            await self.channel_layer.group_add(events.queue_group(queue_id), self.channel_name)
        await self.join(Holder.member(user))
        # After join: the process's heartbeat vouches for the socket from then on.
        await database_sync_to_async(presence_actions.desk_opened)(advisor.pk, self.channel_name)
        self.desk_of = advisor.pk
        state = await database_sync_to_async(_desk_state)(advisor, self.queue_ids)
        for conversation in state["conversations"]:
            await self.channel_layer.group_add(events.request_group(conversation["id"]), self.channel_name)
        await self.accept()
        await self.send_event(state)
        await self.send_identity()

    async def disconnect(self, code: int) -> None:
        if self.desk_of is not None:
            await database_sync_to_async(presence_actions.desk_closed)(self.desk_of, self.channel_name)
            await self.channel_layer.group_discard(events.advisor_group(self.desk_of), self.channel_name)
            for queue_id in self.queue_ids:
                await self.channel_layer.group_discard(events.queue_group(queue_id), self.channel_name)
        await super().disconnect(code)

    def request_id(self, content: dict[str, Any]) -> int | None:
        value = content.get("request")
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else None

    def handlers(self) -> dict[str, Handler]:
        return {
            **self.chat_handlers(),
            **self.call_handlers(),
            **self.secure_handlers(),
            "presence.set": self.presence,
            "help.accept": self.accept_request,
            "help.decline": self.decline,
            "help.close": self.close_conversation,
            "help.transfer_options": self.transfer_options,
            "help.transfer": self.transfer,
        }

    async def presence(self, content: dict[str, Any]) -> None:
        presence = str(content.get("presence"))
        if presence not in ("available", "busy", "away", "offline"):
            await self.error(_("presence is available, busy, away or offline"), content.get("ref"))
            return
        await database_sync_to_async(actions.set_presence)(self.advisor, presence)
        await self.send_event({"type": "presence", "presence": presence})

    async def accept_request(self, content: dict[str, Any]) -> None:
        request_id = self.request_id(content)
        try:
            request = await database_sync_to_async(actions.accept_request)(self.advisor, request_id)
        except (actions.NotYours, HelpRequest.DoesNotExist) as refused:
            await self.error(why_refused(refused), content.get("ref"))
            return
        await self.channel_layer.group_add(events.request_group(request.pk), self.channel_name)
        described = await database_sync_to_async(events.describe)(request)
        await self.send_event({"type": "help.conversation", "request": described})

    async def decline(self, content: dict[str, Any]) -> None:
        request_id = self.request_id(content)
        try:
            await database_sync_to_async(actions.decline_request)(self.advisor, request_id)
        except HelpRequest.DoesNotExist:
            await self.error(_("no such request"), content.get("ref"))

    async def close_conversation(self, content: dict[str, Any]) -> None:
        request_id = self.request_id(content)
        try:
            await database_sync_to_async(actions.close_request)(
                request_id, advisor=self.advisor, wrap_up=str(content.get("wrap_up", ""))
            )
        except (actions.NotYours, HelpRequest.DoesNotExist) as refused:
            await self.error(why_refused(refused), content.get("ref"))

    async def transfer_options(self, content: dict[str, Any]) -> None:
        """Whom the conversation may go to now, for the desk's chooser."""
        request_id = self.request_id(content)
        try:
            options = await database_sync_to_async(actions.transfer_options)(self.advisor, request_id)
        except (actions.NotYours, actions.HelpRefused, HelpRequest.DoesNotExist) as refused:
            await self.error(why_refused(refused), content.get("ref"))
            return
        await self.send_event(
            {"type": "help.transfer_options", "request": request_id, "ref": content.get("ref"), **options}
        )

    async def transfer(self, content: dict[str, Any]) -> None:
        """Hand the conversation on; the first advisor's desks hear help.transferred."""
        request_id = self.request_id(content)
        to = {"to_advisor": content.get("advisor"), "to_queue": content.get("queue")}
        try:
            await database_sync_to_async(actions.transfer_conversation)(self.advisor, request_id, **to)
        except (actions.NotYours, actions.HelpRefused, HelpRequest.DoesNotExist) as refused:
            await self.error(why_refused(refused), content.get("ref"))

    async def help_presence(self, event: dict[str, Any]) -> None:
        """The advisor's presence, and why the portal changed it, in this desk's language."""
        await self.send_event({**event, "reason": spoken(event.get("reason"))})

    async def help_transferred(self, event: dict[str, Any]) -> None:
        """Handed on from one of the advisor's desks: this one hears no more of the conversation."""
        await self.channel_layer.group_discard(events.request_group(event["request"]), self.channel_name)
        await self.send_event(event)

    async def help_conversation(self, event: dict[str, Any]) -> None:
        """Accepted on another of the advisor's sockets: this one joins the conversation too."""
        await self.channel_layer.group_add(events.request_group(event["request"]["id"]), self.channel_name)
        await self.send_event(event)


__all__ = ["DeskConsumer", "HelpConsumer", "current_identity"]
