"""State changes of pager-mode messages. Browser consumers and the IMS side both come through here."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Exists
from django.db.models.functions import Upper

from identity_blocks.holders import Holder
from identity_blocks.models import HolderSession, IdentityAssignment
from ims import events, inbox, outbox, signals
from ims.models import Direction, MessageStatus, PagerMessage
from portal.prepared import Prepared, fields_of
from sip.uri import InvalidUri, parse_uri


class Delivery(enum.Enum):
    """How an inbound MESSAGE is answered (RFC 3428 §7)."""

    STORED = (200, "OK")
    NOT_ASSIGNED = (404, "Not Found")
    NO_SESSION = (480, "Temporarily Unavailable")
    TOO_LARGE = (413, "Request Entity Too Large")
    UNSUPPORTED = (415, "Unsupported Media Type")


class MessageRefused(ValueError):
    """A message the user asked to send that cannot go, with a reason for the user."""


TEXT_TYPES = ("text/plain", "text/html", "message/cpim")


def _chat_text(body: bytes) -> str:
    """Phones end lines with CRLF and often the body too; a chat shows neither."""
    return body.decode("utf-8", errors="replace").replace("\r\n", "\n").rstrip("\n")


class Called(NamedTuple):
    """The live assignment of an IMPU the IMS core sends to, and whether its holder is here."""

    assignment: IdentityAssignment
    present: bool  # a browser session of the holder is open


def _assignment_for(impu: str) -> Called | None:
    return _assignments_for({impu}).get(impu.upper())


@dataclass(frozen=True)
class Inbound:
    """A MESSAGE from the IMS core to one of our identities."""

    impu: str
    sender: str
    content_type: str
    body: bytes
    call_id: str
    cseq: int


Received = tuple[Delivery, PagerMessage | None]


def receive_message(impu: str, sender: str, content_type: str, body: bytes, *, call_id: str, cseq: int) -> Received:
    """Store an inbound MESSAGE for the holder of `impu` and hand it to their open sessions."""
    return receive_messages([Inbound(impu, sender, content_type, body, call_id, cseq)])[0]


def receive_messages(inbound: list[Inbound]) -> list[Received]:
    """Store a batch of inbound MESSAGEs at once, the IMS side's group commit, and hand them to
    the receivers of message_received (the help desk numbers its chat messages); each gets the
    answer its MESSAGE is owed (RFC 3428 §7), 200 only once it is stored and handed over."""
    answers: list[Received | None] = [_unreadable(item) for item in inbound]
    readable = [item for item, answer in zip(inbound, answers, strict=True) if answer is None]
    assignments = _assignments_for({item.impu for item in readable})
    # A MESSAGE stored before (its transaction over, or by another process) is looked for here
    # when its holder has left since; otherwise the unique constraint finds it as it is stored.
    away = {(i.call_id, i.cseq) for i in readable if (c := assignments.get(i.impu.upper())) and not c.present}
    stored = _stored(away)
    fresh: dict[inbox.Key, PagerMessage] = {}
    for n, item in enumerate(inbound):
        if answers[n] is not None:
            continue
        called = assignments.get(item.impu.upper())
        if called is None:
            answers[n] = (Delivery.NOT_ASSIGNED, None)
        elif (item.call_id, item.cseq) in stored:  # the same MESSAGE again: already stored and shown
            answers[n] = (Delivery.STORED, stored[item.call_id, item.cseq])
        elif not called.present and not _wanted(item):
            answers[n] = (Delivery.NO_SESSION, None)
        else:
            message = fresh.setdefault((item.call_id, item.cseq), _pager(called.assignment, item))
            answers[n] = (Delivery.STORED, message)
    raced = _stored(inbox.store(list(fresh.values())))
    done = [(delivery, raced.get(inbox.key_of(m), m) if m else None) for delivery, m in cast(list[Received], answers)]
    events.messages_changed([m for m in fresh.values() if m.pk is not None])
    # Every one stored, those stored before too: receivers take each only once (see ims.inbox).
    delivered = {id(m): m for _, m in done if m is not None}
    if delivered:
        signals.message_received.send(sender=PagerMessage, messages=list(delivered.values()))
    return done


def _unreadable(item: Inbound) -> Received | None:
    if len(item.body) > settings.IMS_MAX_MESSAGE_BYTES:
        return Delivery.TOO_LARGE, None
    if item.content_type.split(";")[0].strip().lower() not in TEXT_TYPES:
        return Delivery.UNSUPPORTED, None
    return None


# The hot path's reads, compiled once (portal.prepared); samples no real call passes.
_LIVE_BY_IMPU = Prepared(
    lambda impus: (
        IdentityAssignment.objects.live()
        .annotate(upper_impu=Upper("impu"), present=Exists(HolderSession.objects.of_outer()))
        .filter(upper_impu__any=impus)
        .values_list(*fields_of(IdentityAssignment), "present")
    ),
    ["\x00impu"],
)
_LIVE_OF = Prepared(
    lambda users, guests: (
        IdentityAssignment.objects.live().held_by(users, guests).values_list(*fields_of(IdentityAssignment))
    ),
    [-1],
    ["\x00guest"],
)
_INBOUND = Prepared(
    lambda call_ids: PagerMessage.objects.filter(direction=Direction.INBOUND, sip_call_id__any=call_ids).values_list(
        *fields_of(PagerMessage)
    ),
    ["\x00call"],
)


def _assignments_for(impus: set[str]) -> dict[str, Called]:
    """By upper-cased IMPU: the IMS core may change the case of a URI's host."""
    if not impus:
        return {}
    found = _LIVE_BY_IMPU.instances(IdentityAssignment, [impu.upper() for impu in impus], extra=["present"])
    return {assignment.impu.upper(): Called(assignment, assignment.present) for assignment in found}


def _stored(keys: set[inbox.Key]) -> dict[inbox.Key, PagerMessage]:
    if not keys:
        return {}
    found = _INBOUND.instances(PagerMessage, list({call_id for call_id, _ in keys}))
    return {inbox.key_of(m): m for m in found if inbox.key_of(m) in keys}


def _wanted(item: Inbound) -> bool:
    """A holder away for a moment: a receiver may keep the message for them (a conversation)."""
    answers = signals.message_wanted.send(PagerMessage, local=item.impu, remote=item.sender)
    return any(kept for _, kept in answers)


def _pager(assignment: IdentityAssignment, item: Inbound) -> PagerMessage:
    return PagerMessage(
        assignment=assignment, direction=Direction.INBOUND, local_impu=assignment.impu, remote_uri=item.sender,
        content_type=item.content_type, body=_chat_text(item.body), status=MessageStatus.DELIVERED,
        sip_call_id=item.call_id, sip_cseq=item.cseq,
    )  # fmt: skip


@dataclass(frozen=True)
class Outgoing:
    """A MESSAGE a holder asks to send from their identity."""

    holder: Holder
    to: str
    body: str
    content_type: str = "text/plain"


def send_message(holder: Holder, to: str, body: str, content_type: str = "text/plain") -> PagerMessage:
    """Queue a MESSAGE from the holder's identity; the IMS side sends it and reports the outcome."""
    queued = send_messages([Outgoing(holder, to, body, content_type)])[0]
    if isinstance(queued, Exception):
        raise queued
    return queued


def send_messages(outgoing: list[Outgoing]) -> list[PagerMessage | MessageRefused]:
    """Queue many at once (a help-desk batch crossing the IMS): the senders' identities in one
    query, one insert, one event to the IMS side. Each gets its message or why it cannot go."""
    queued: list[PagerMessage | MessageRefused] = []
    users = list({o.holder.user_id for o in outgoing if o.holder.is_member})
    guests = list({o.holder.guest_key for o in outgoing if not o.holder.is_member})
    assignments = {Holder.of(a): a for a in _LIVE_OF.instances(IdentityAssignment, users, guests)}
    for item in outgoing:
        to, assignment = item.to.strip(), assignments.get(item.holder)
        refusal = _refusal(to, item.body) or (None if assignment else MessageRefused("you have no IMS identity yet"))
        queued.append(refusal or PagerMessage(
            assignment=assignment, direction=Direction.OUTBOUND, local_impu=assignment.impu if assignment else "",
            remote_uri=to, content_type=item.content_type, body=item.body,
        ))  # fmt: skip
    messages = [m for m in queued if isinstance(m, PagerMessage)]
    with transaction.atomic(savepoint=False):  # inside a chat batch's transaction: no savepoint round trips
        PagerMessage.objects.bulk_create(messages)
        queued_elsewhere(messages)
    return queued


def queued_elsewhere(messages: list[PagerMessage]) -> None:
    """Outbound MESSAGEs stored by another's statement (help_desk.posting, in one with the chat
    messages they carry) go out as those queued here do: to the holder's sessions, to the IMS side."""
    if messages:
        events.messages_changed(messages)
        events.sends_requested(messages)


def _refusal(to: str, body: str) -> MessageRefused | None:
    try:
        parse_uri(to)
    except InvalidUri as error:
        return MessageRefused(str(error))
    if not body.strip():
        return MessageRefused("the message is empty")
    if len(body.encode()) > settings.IMS_MAX_MESSAGE_BYTES:
        return MessageRefused(f"the message is longer than {settings.IMS_MAX_MESSAGE_BYTES} bytes")
    return None


@dataclass(frozen=True)
class Outcome:
    """The IMS core's final answer to an outbound MESSAGE."""

    message_id: int
    status: int
    reason: str


def message_outcomes(outcomes: list[Outcome]) -> list[PagerMessage | Exception]:
    """Record a batch of answers at once (the IMS side's group commit for them; ims.outbox)."""
    changed = outbox.record({o.message_id: _decided(o) for o in outcomes})  # an id's last answer stands
    events.messages_changed(list(changed.values()))
    signals.message_outcome.send(sender=PagerMessage, messages=list(changed.values()))
    return [changed.get(o.message_id) or PagerMessage.DoesNotExist(o.message_id) for o in outcomes]


def _decided(outcome: Outcome) -> tuple[str, str]:
    if 200 <= outcome.status < 300:
        return MessageStatus.SENT, ""
    return MessageStatus.FAILED, f"{outcome.status} {outcome.reason}"[:300]


def callee(impu: str) -> tuple[int, str, bool] | None:
    """For an incoming call: the assignment, its holder's group, and whether a browser is open."""
    called = _assignment_for(impu)
    if called is None:
        return None
    return called.assignment.pk, Holder.of(called.assignment).group, called.present


def holder_group(assignment_id: int) -> str | None:
    """Whose browsers a live assignment's events go to."""
    assignment = IdentityAssignment.objects.live().filter(pk=assignment_id).first()
    return None if assignment is None else Holder.of(assignment).group
