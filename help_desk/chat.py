"""Chat in a conversation. Unsecured chat crosses the IMS: a message is sent as SIP MESSAGE from
the sender's identity to the other side's, and is numbered and shown when it arrives back, so the
sequence is the order in which the IMS delivered. Without both identities it is numbered at once."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from help_desk import events
from help_desk.actions import NotYours, holder_of
from help_desk.models import ChatMessage, HelpRequest, RequestStatus
from identity_blocks.holders import Holder
from ims import actions as ims_actions
from portal.text import storable

# A long explanation fits (a 5,000-character one is ordinary); in UTF-8 at most 40 kB, inside the
# SIP body limit (IMS_MAX_MESSAGE_BYTES), so any message the chat takes the IMS can carry.
MAX_CHARS = 10_000
MAX_PENDING = 200  # client ids a resume may ask about
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# What posting reads of a conversation: who its two sides are, whether it is open, the identities
# the chat crosses the IMS between.
POSTING_NEEDS = ("status", "guest_key", "user_id", "advisor__user_id", "customer_impu", "advisor_impu")


class ChatRefused(ValueError):
    """A message that cannot be posted, with a reason for the sender."""


def side_of(request: HelpRequest, holder: Holder) -> bool:
    """True for the advisor, False for the customer; NotYours for anyone else."""
    advisor = request.advisor
    if advisor is not None and holder.user_id == advisor.user_id:
        return True
    if holder == holder_of(request):
        return False
    raise NotYours(_("This conversation is not yours."))


@dataclass(frozen=True)
class Post:
    request_id: int
    holder: Holder
    body: str
    client_id: str


Posted = ChatMessage | Exception  # the message, or why it was refused (NotYours, ChatRefused, ...)


def post_message(request_id: int, holder: Holder, body: str, client_id: str) -> ChatMessage:
    """Post once: the same client_id again (a resend after a reconnect) is the same message."""
    outcome = post_messages([Post(request_id, holder, body, client_id)])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def post_messages(posts: list[Post]) -> list[Posted]:
    """Post many at once, the group commit of a busy server: one transaction numbers and stores
    every message that needs no trip over the IMS. Each post gets its message or its refusal."""
    try:
        with transaction.atomic():
            return _post(posts, resends_possible=False)
    except IntegrityError:
        # A resend of a message stored before (after a reconnect): the batch again, looking
        # its messages up first. The conversations are locked before the look-up, so a resend
        # racing its original from another process waits for it and finds it.
        with transaction.atomic():
            return _post(posts, resends_possible=True)


def locked(conversations: QuerySet[HelpRequest]) -> QuerySet[HelpRequest]:
    """Locked in id order, so that two processes' batches over the same conversations cannot
    deadlock. Numbers are given only under this lock."""
    return conversations.select_for_update(of=("self",)).order_by("pk")


def tops(request_ids: Collection[int]) -> dict[int, int]:
    """Each locked conversation's highest number so far (0 before the first), from the unique
    index on (request, seq): the next is top + 1, and no counter is written back per batch. A
    statement of its own after the lock, not a subquery of the locking one: that one's snapshot
    predates its wait for the lock, so it would miss what the holder before it committed."""
    if not request_ids:
        return {}
    numbered = ChatMessage.objects.filter(request=OuterRef("pk"), seq__isnull=False).order_by("-seq")
    top = Coalesce(Subquery(numbered.values("seq")[:1]), 0)
    return dict(HelpRequest.objects.filter(pk__in=request_ids).annotate(top=top).values_list("pk", "top"))


def _post(posts: list[Post], *, resends_possible: bool) -> list[Posted]:
    # Only what a post needs of each conversation: a fifth of the columns, compiled and read.
    conversations = HelpRequest.objects.select_related("advisor").only(*POSTING_NEEDS)
    requests = {request.pk: request for request in locked(conversations.filter(pk__in={p.request_id for p in posts}))}
    outcomes = [_checked(post, requests.get(post.request_id)) for post in posts]
    fresh: dict[tuple[int, bool, str], ChatMessage] = {}
    senders: dict[int, Holder] = {}  # by id() of the message: whose identity it leaves from
    for n, outcome in enumerate(outcomes):
        if isinstance(outcome, ChatMessage):  # a client id twice in one batch is one message
            outcomes[n] = fresh.setdefault(_key(outcome), outcome)
            senders[id(outcomes[n])] = posts[n].holder
    stored = _stored(list(fresh.values())) if resends_possible else {}
    refused = _store([chat for key, chat in fresh.items() if key not in stored], requests, senders)
    return [_final(outcome, stored, refused) for outcome in outcomes]


def _key(chat: ChatMessage) -> tuple[int, bool, str]:
    return chat.request_id, chat.from_advisor, chat.client_id


def _final(outcome: Posted, stored: dict[tuple[int, bool, str], ChatMessage], refused: dict[int, Exception]) -> Posted:
    if isinstance(outcome, Exception):
        return outcome
    return refused.get(id(outcome)) or stored.get(_key(outcome), outcome)


def _normalized(body: str) -> str:
    return body.replace("\r\n", "\n").strip()


def _checked(post: Post, request: HelpRequest | None) -> Posted:
    """An unsaved message for the post, or why it cannot be posted."""
    if request is None:
        return HelpRequest.DoesNotExist("no such request")
    try:
        from_advisor = side_of(request, post.holder)
    except NotYours as refused:
        return refused
    body = _normalized(post.body)
    if request.status != RequestStatus.ACTIVE:
        return ChatRefused(_("the conversation is not open"))
    if not body or len(body) > MAX_CHARS:
        return ChatRefused(format_lazy(_("a message has 1 to {max} characters"), max=MAX_CHARS))
    if not storable(body):
        return ChatRefused(_("a message cannot hold a NUL character or a lone surrogate"))
    if not _CLIENT_ID.fullmatch(post.client_id):
        return ChatRefused(_("client_id must be 1 to 64 letters, digits, - or _"))
    return ChatMessage(request=request, from_advisor=from_advisor, body=body, client_id=post.client_id)


def _stored(chats: list[ChatMessage]) -> dict[tuple[int, bool, str], ChatMessage]:
    """Those already posted (a resend after a reconnect): one query for the lot."""
    if not chats:
        return {}
    found = ChatMessage.objects.filter(
        request_id__in={c.request_id for c in chats}, client_id__in={c.client_id for c in chats}
    )
    wanted = {_key(chat) for chat in chats}
    return {_key(chat): chat for chat in found if _key(chat) in wanted}


def _store(
    chats: list[ChatMessage], requests: dict[int, HelpRequest], senders: dict[int, Holder]
) -> dict[int, Exception]:
    """Numbered at once, or handed to the IMS to be numbered on arrival, in the caller's
    transaction with the conversations locked. Returns refusals by id() of the message."""
    crossing = [chat for chat in chats if _over_ims(requests[chat.request_id])]
    direct = [chat for chat in chats if not _over_ims(requests[chat.request_id])]
    top = tops({chat.request_id for chat in direct})
    for chat in direct:
        top[chat.request_id] += 1
        chat.seq = top[chat.request_id]
    if direct:
        ChatMessage.objects.bulk_create(direct)
        events.chat_messages(direct)
    return _send_over_ims(crossing, requests, senders) if crossing else {}


def _over_ims(request: HelpRequest) -> bool:
    return bool(settings.HELP_CHAT_OVER_IMS and request.customer_impu and request.advisor_impu)


def _send_over_ims(
    chats: list[ChatMessage], requests: Mapping[int, HelpRequest], senders: dict[int, Holder]
) -> dict[int, Exception]:
    """Each sent as a SIP MESSAGE from its sender's identity to the other side's, numbered on
    arrival. send_messages refuses before it writes anything, so no savepoint is needed here."""
    outgoing = []
    for chat in chats:
        request = requests[chat.request_id]
        to = request.customer_impu if chat.from_advisor else request.advisor_impu
        outgoing.append(ims_actions.Outgoing(senders[id(chat)], to, chat.body))
    refused: dict[int, Exception] = {}
    for chat, queued in zip(chats, ims_actions.send_messages(outgoing), strict=True):
        if isinstance(queued, Exception):
            refused[id(chat)] = ChatRefused(*queued.args)
        else:
            chat.sent_as = queued
    ChatMessage.objects.bulk_create([chat for chat in chats if id(chat) not in refused])
    return refused


def messages_after(request_id: int, holder: Holder, after: int, pending: list[str] | None = None) -> list[ChatMessage]:
    """What a reconnecting (or periodically syncing) client missed: numbered messages past
    `after`, in order, then those of its own `pending` client ids that could not be delivered."""
    request = HelpRequest.objects.select_related("advisor").get(pk=request_id)
    from_advisor = side_of(request, holder)
    missed = list(ChatMessage.objects.filter(request=request, seq__gt=after).order_by("seq"))
    undelivered = ChatMessage.objects.filter(request=request, from_advisor=from_advisor, seq__isnull=True).exclude(
        failed=""
    )
    if after == 0:  # a page loaded afresh: its own messages that failed keep showing, to retry
        return missed + list(undelivered.order_by("created_at"))
    if pending:
        ids = [client_id for client_id in pending[:MAX_PENDING] if isinstance(client_id, str)]
        missed += undelivered.filter(client_id__in=ids)
    return missed


def retry_message(request_id: int, holder: Holder, client_id: str) -> ChatMessage:
    """One of the holder's messages that was not delivered, sent again: a new SIP MESSAGE, the same
    message in the chat (numbered when it arrives). Raises NotYours or ChatRefused."""
    with transaction.atomic():
        locked = HelpRequest.objects.select_for_update(of=("self",)).select_related("advisor")
        request = locked.get(pk=request_id)
        from_advisor = side_of(request, holder)
        if request.status != RequestStatus.ACTIVE:
            raise ChatRefused(_("the conversation is not open"))
        mine = ChatMessage.objects.filter(request=request, from_advisor=from_advisor, client_id=client_id)
        failed = mine.filter(seq__isnull=True).exclude(failed="").first()
        if failed is None:
            raise ChatRefused(_("no message of yours waits to be sent again under that client_id"))
        refused = _send_over_ims_again(failed, request, holder)
        if refused is not None:
            raise refused
        events.chat_messages([failed])
    return failed


def _send_over_ims_again(chat: ChatMessage, request: HelpRequest, holder: Holder) -> ChatRefused | None:
    to = request.customer_impu if chat.from_advisor else request.advisor_impu
    [queued] = ims_actions.send_messages([ims_actions.Outgoing(holder, to, chat.body)])
    if isinstance(queued, Exception):
        return ChatRefused(*queued.args)
    chat.sent_as, chat.failed = queued, ""
    chat.save(update_fields=["sent_as", "failed"])
    return None


def mark_read(request_id: int, holder: Holder, up_to: int) -> int:
    request = HelpRequest.objects.select_related("advisor").get(pk=request_id)
    reader_is_advisor = side_of(request, holder)
    read = ChatMessage.objects.filter(
        request=request, from_advisor=not reader_is_advisor, seq__lte=up_to, read_at__isnull=True
    ).update(read_at=timezone.now())
    if read:
        events.chat_read(request_id, up_to, by_advisor=reader_is_advisor)
    return read
