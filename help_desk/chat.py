"""Chat in a conversation. Unsecured chat crosses the IMS: a message is sent as SIP MESSAGE from
the sender's identity to the other side's, and is numbered and shown when it arrives back, so the
sequence is the order in which the IMS delivered. Without both identities it is numbered at once."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.dispatch import receiver
from django.utils import timezone

from help_desk import events
from help_desk.actions import NotYours, holder_of
from help_desk.models import ChatMessage, HelpRequest, RequestStatus
from identity_blocks.holders import Holder
from ims import actions as ims_actions
from ims import signals
from ims.models import MessageStatus, PagerMessage

MAX_CHARS = 4000
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ChatRefused(ValueError):
    """A message that cannot be posted, with a reason for the sender."""


def side_of(request: HelpRequest, holder: Holder) -> bool:
    """True for the advisor, False for the customer; NotYours for anyone else."""
    advisor = request.advisor
    if advisor is not None and holder.user_id == advisor.user_id:
        return True
    if holder == holder_of(request):
        return False
    raise NotYours("This conversation is not yours.")


def post_message(request_id: int, holder: Holder, body: str, client_id: str) -> ChatMessage:
    """Post once: the same client_id again (a resend after a reconnect) is the same message."""
    request = HelpRequest.objects.select_related("advisor").get(pk=request_id)
    from_advisor = side_of(request, holder)
    body = body.replace("\r\n", "\n").strip()
    if request.status != RequestStatus.ACTIVE:
        raise ChatRefused("the conversation is not open")
    if not body or len(body) > MAX_CHARS:
        raise ChatRefused(f"a message has 1 to {MAX_CHARS} characters")
    if not _CLIENT_ID.fullmatch(client_id):
        raise ChatRefused("client_id must be 1 to 64 letters, digits, - or _")
    existing = ChatMessage.objects.filter(request=request, from_advisor=from_advisor, client_id=client_id).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        chat = ChatMessage.objects.create(request=request, from_advisor=from_advisor, body=body, client_id=client_id)
        to = request.customer_impu if from_advisor else request.advisor_impu
        if settings.HELP_CHAT_OVER_IMS and request.customer_impu and request.advisor_impu:
            chat.sent_as = ims_actions.send_message(holder, to, body)
            chat.save(update_fields=["sent_as"])
        else:
            _number(chat)
    return chat


def _number(chat: ChatMessage) -> None:
    """The conversation's next sequence number, taken under the conversation's row lock."""
    table = HelpRequest._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_seq = next_seq + 1 WHERE id = %s RETURNING next_seq",  # noqa: S608
            [chat.request_id],
        )
        row = cursor.fetchone()
    chat.seq = int(row[0]) - 1
    chat.save(update_fields=["seq", "pager_message"])
    events.chat_message(chat)


def _open_between(local: str, remote: str) -> QuerySet[HelpRequest]:
    """Open conversations whose two identities are these, whichever side is which."""
    from_customer = Q(customer_impu__iexact=remote, advisor_impu__iexact=local)
    from_advisor = Q(customer_impu__iexact=local, advisor_impu__iexact=remote)
    return HelpRequest.objects.filter(from_customer | from_advisor, status=RequestStatus.ACTIVE)


def _conversation_of(message: PagerMessage) -> tuple[HelpRequest, bool] | None:
    """The open conversation between the message's two identities, and whether the advisor sent it."""
    request = _open_between(message.local_impu, message.remote_uri).first()
    if request is None:
        return None
    return request, request.advisor_impu.lower() == message.remote_uri.lower()


@receiver(signals.message_wanted)
def wanted(sender: object, local: str, remote: str, **kwargs: object) -> bool:
    """A conversation keeps its messages for a side whose connection is down for a moment."""
    return _open_between(local, remote).exists()


@receiver(signals.message_received)
def arrived(sender: object, message: PagerMessage, **kwargs: object) -> None:
    """A MESSAGE between the two identities of a conversation reached the portal: number it."""
    found = _conversation_of(message)
    if found is None:
        return
    request, from_advisor = found
    pending = (
        ChatMessage.objects.select_for_update()
        .filter(request=request, from_advisor=from_advisor, seq__isnull=True, failed="", body=message.body)
        .order_by("id")
        .first()
    )
    if pending is None:  # sent from elsewhere (a phone of the advisor's, say): still part of the chat
        pending = ChatMessage(
            request=request, from_advisor=from_advisor, body=message.body, client_id=f"ims-{message.pk}"
        )
        pending.save()
    pending.pager_message = message
    _number(pending)


@receiver(signals.message_outcome)
def outcome(sender: object, message: PagerMessage, **kwargs: object) -> None:
    if message.status != MessageStatus.FAILED:
        return
    chat = ChatMessage.objects.filter(sent_as=message, seq__isnull=True).first()
    if chat is not None:
        chat.failed = message.error or "not delivered"
        chat.save(update_fields=["failed"])
        events.chat_message(chat)


def messages_after(request_id: int, holder: Holder, after: int) -> list[ChatMessage]:
    """What a reconnecting client missed: numbered messages past `after`, in order."""
    request = HelpRequest.objects.select_related("advisor").get(pk=request_id)
    side_of(request, holder)
    return list(ChatMessage.objects.filter(request=request, seq__gt=after).order_by("seq"))


def mark_read(request_id: int, holder: Holder, up_to: int) -> int:
    request = HelpRequest.objects.select_related("advisor").get(pk=request_id)
    reader_is_advisor = side_of(request, holder)
    read = ChatMessage.objects.filter(
        request=request, from_advisor=not reader_is_advisor, seq__lte=up_to, read_at__isnull=True
    ).update(read_at=timezone.now())
    if read:
        events.chat_read(request_id, up_to, by_advisor=reader_is_advisor)
    return read
