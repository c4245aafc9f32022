"""Chat messages arriving over the IMS. The IMS side stores a batch of inbound MESSAGEs and sends
message_received before it answers them; here the ones between the two identities of an open
conversation are numbered, so that the 200 that follows means numbered too. On PostgreSQL that
is one statement (help_desk.numbering); elsewhere, or should it fail, one transaction of a few
queries whatever the batch's size."""

from __future__ import annotations

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Upper
from django.dispatch import receiver

from help_desk import events, numbering
from help_desk.chat import advance
from help_desk.models import ChatMessage, HelpRequest, RequestStatus
from ims import signals
from ims.models import MessageStatus, PagerMessage
from portal.prepared import Prepared, fields_of, undone_on_error, update_each


def _between(local: str, remote: str) -> Q:
    """Conversations whose two identities are these, whichever side is which."""
    from_customer = Q(customer_impu__iexact=remote, advisor_impu__iexact=local)
    return from_customer | Q(customer_impu__iexact=local, advisor_impu__iexact=remote)


def _open_between(local: str, remote: str) -> QuerySet[HelpRequest]:
    return HelpRequest.objects.filter(_between(local, remote), status=RequestStatus.ACTIVE)


# The hot path's reads, compiled once (portal.prepared); samples no real call passes.
_OPEN_AMONG = Prepared(
    lambda impus: (
        HelpRequest.objects.select_for_update()
        .filter(status=RequestStatus.ACTIVE)
        .annotate(upper_customer=Upper("customer_impu"), upper_advisor=Upper("advisor_impu"))
        .filter(upper_customer__any=impus, upper_advisor__any=impus)
        .order_by("pk")
        .values_list(*fields_of(HelpRequest))
    ),
    ["\x00impu"],
)
_PENDING = Prepared(
    lambda ids: (
        ChatMessage.objects.select_for_update()
        .filter(request_id__any=ids, seq__isnull=True, failed="")
        .order_by("id")
        .values_list(*fields_of(ChatMessage))
    ),
    [-1],
)


def _conversations_of(messages: list[PagerMessage]) -> dict[int, tuple[HelpRequest, bool]]:
    """By id() of each message between the two identities of an open conversation: that
    conversation (the oldest, should there be two) and whether its advisor sent the message.
    One query for the batch: the open conversations among its identities (the expression index
    open_between), locked in id order as posting locks them, so the two cannot deadlock."""
    impus = list({impu.upper() for m in messages for impu in (m.local_impu, m.remote_uri)})
    by_pair: dict[tuple[str, str], HelpRequest] = {}
    for request in _OPEN_AMONG.instances(HelpRequest, impus):
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
    return _open_between(local, remote).exists()


@receiver(signals.message_received)
def arrived(sender: object, messages: list[PagerMessage], **kwargs: object) -> None:
    """Number each message of a conversation in the order the IMS delivered it: the pending chat
    message it carries, or a new one when it was sent from elsewhere (an advisor's phone, say).
    A message handed over again (see ims.signals) is taken only once."""
    if numbering.available():
        try:
            with undone_on_error():
                numbered = numbering.number_at_once(messages)
            events.chat_messages(numbered)
            return
        except (IntegrityError, OperationalError):  # a deadlock, a race: the careful way
            pass
    with transaction.atomic():
        _number(messages)


def _number(messages: list[PagerMessage]) -> None:
    found = _conversations_of(messages)
    ids = [m.pk for m in messages if id(m) in found]
    carried = set(ChatMessage.objects.filter(pager_message__in=ids).values_list("pager_message_id", flat=True))
    messages = [m for m in messages if id(m) in found and m.pk not in carried]
    if not messages:
        return
    top = {request.pk: request.next_seq for request, _ in found.values()}
    pending = _PENDING.instances(ChatMessage, sorted(top))
    numbered = []
    for message in messages:
        request, from_advisor = found[id(message)]
        chat = _take(pending, request.pk, from_advisor, message.body) or ChatMessage(
            request=request, from_advisor=from_advisor, body=message.body, client_id=f"ims-{message.pk}"
        )
        chat.pager_message, chat.seq = message, top[request.pk]
        top[request.pk] += 1
        numbered.append(chat)
    advance({chat.request_id: top[chat.request_id] for chat in numbered})
    ChatMessage.objects.bulk_create([chat for chat in numbered if chat.pk is None])
    update_each(
        ChatMessage, ["seq", "pager_message"], [(c.pk, c.seq, c.pager_message_id) for c in numbered if c.pk is not None]
    )
    events.chat_messages(numbered)


def _take(pending: list[ChatMessage], request_id: int, from_advisor: bool, body: str) -> ChatMessage | None:
    """The oldest pending message with this text from this side: the one this MESSAGE carried."""
    for n, chat in enumerate(pending):
        if (chat.request_id, chat.from_advisor, chat.body) == (request_id, from_advisor, body):
            return pending.pop(n)
    return None


@receiver(signals.message_outcome)
def outcome(sender: object, messages: list[PagerMessage], **kwargs: object) -> None:
    failed = [m.pk for m in messages if m.status == MessageStatus.FAILED]
    if not failed:
        return
    for chat in ChatMessage.objects.filter(sent_as__in=failed, seq__isnull=True).select_related("sent_as"):
        chat.failed = (chat.sent_as.error if chat.sent_as else "") or "not delivered"
        chat.save(update_fields=["failed"])
        events.chat_message(chat)
