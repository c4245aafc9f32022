"""Chat messages arriving over the IMS. The IMS side stores a batch of inbound MESSAGEs and sends
message_received before it answers them; here the ones between the two identities of an open
conversation are numbered, so that the 200 that follows means numbered too: one transaction of a
few queries whatever the batch's size. An arrival carries the chat message whose outbound MESSAGE
had its Call-ID (the core passes it on unchanged); one with no such message was sent from
elsewhere (an advisor's phone) and becomes a new chat message."""

from __future__ import annotations

from django.db import transaction
from django.db.models.functions import Upper
from django.dispatch import receiver

from help_desk import events
from help_desk.chat import locked, tops
from help_desk.models import ChatMessage, HelpRequest, RequestStatus
from ims import signals
from ims.models import MessageStatus, PagerMessage


def _conversations_of(messages: list[PagerMessage]) -> dict[int, tuple[HelpRequest, bool]]:
    """By id() of each message between the two identities of an open conversation: that
    conversation (the oldest, should there be two) and whether its advisor sent the message.
    One query for the batch: the open conversations among its identities (the expression index
    open_between), locked in id order as chat.post_messages locks them, so the two cannot deadlock."""
    impus = list({impu.upper() for m in messages for impu in (m.local_impu, m.remote_uri)})
    by_pair: dict[tuple[str, str], HelpRequest] = {}
    open_among = locked(
        HelpRequest.objects.filter(status=RequestStatus.ACTIVE)
        .annotate(upper_customer=Upper("customer_impu"), upper_advisor=Upper("advisor_impu"))
        .filter(upper_customer__in=impus, upper_advisor__in=impus)
    )
    for request in open_among:
        by_pair.setdefault((request.customer_impu.upper(), request.advisor_impu.upper()), request)
    found = {}
    for message in messages:
        local, remote = message.local_impu.upper(), message.remote_uri.upper()
        if (remote, local) in by_pair:
            found[id(message)] = (by_pair[remote, local], False)
        elif (local, remote) in by_pair:
            found[id(message)] = (by_pair[local, remote], True)
    return found


@receiver(signals.message_wanted)
def wanted(sender: object, local: str, remote: str, **kwargs: object) -> bool:
    """A conversation keeps its messages for a side whose connection is down for a moment."""
    return HelpRequest.objects.open_between(local, remote).exists()


@receiver(signals.message_received)
def arrived(sender: object, messages: list[PagerMessage], **kwargs: object) -> list[int]:
    """Number each message of a conversation in the order the IMS delivered it: the pending chat
    message it carries, or a new one when it was sent from elsewhere (an advisor's phone, say).
    A message handed over again (see ims.signals) is taken only once. Returns the ids of the
    conversations' messages: shown as chat, not as messages of their own."""
    with transaction.atomic():
        return _number(messages)


def _number(messages: list[PagerMessage]) -> list[int]:
    found = _conversations_of(messages)
    ids = [m.pk for m in messages if id(m) in found]
    carried = set(ChatMessage.objects.filter(pager_message__in=ids).values_list("pager_message_id", flat=True))
    messages = [m for m in messages if id(m) in found and m.pk not in carried]
    if messages:
        _store(messages, found)
    return ids


def _store(messages: list[PagerMessage], found: dict[int, tuple[HelpRequest, bool]]) -> None:
    requests = {request.pk: request for request, _ in found.values()}
    top = tops(list(requests))
    sent = _sent_as(list(top), {m.sip_call_id for m in messages})
    numbered = []
    for message in messages:
        request, from_advisor = found[id(message)]
        chat = sent.pop(message.sip_call_id, None) or ChatMessage(
            request=request, from_advisor=from_advisor, body=message.body, client_id=f"ims-{message.pk}"
        )
        top[request.pk] += 1
        chat.pager_message, chat.seq, chat.failed = message, top[request.pk], ""
        numbered.append(chat)
    # One statement for the new and the pending alike (the pending rows locked, so written back
    # as read but for these fields): bulk_update's CASE per row and field grows with the batch.
    ChatMessage.objects.bulk_create(
        numbered, update_conflicts=True, unique_fields=["id"], update_fields=["seq", "pager_message", "failed"]
    )
    events.chat_messages(numbered)


def _sent_as(request_ids: list[int], call_ids: set[str]) -> dict[str, ChatMessage]:
    """The unnumbered chat messages of these conversations carried by MESSAGEs with these Call-IDs
    (one that was given up on, late as it is, has arrived after all)."""
    pending = (
        ChatMessage.objects.select_for_update(of=("self",))
        .select_related("sent_as")
        .filter(request_id__in=request_ids, seq__isnull=True, sent_as__sip_call_id__in=call_ids)
    )
    return {chat.sent_as.sip_call_id: chat for chat in pending if chat.sent_as is not None}


@receiver(signals.message_outcome)
def outcome(sender: object, messages: list[PagerMessage], **kwargs: object) -> None:
    failed = [m.pk for m in messages if m.status == MessageStatus.FAILED]
    if not failed:
        return
    for chat in ChatMessage.objects.filter(sent_as__in=failed, seq__isnull=True).select_related("sent_as"):
        chat.failed = (chat.sent_as.error if chat.sent_as else "") or "not delivered"
        chat.save(update_fields=["failed"])
        events.chat_message(chat)
