"""State changes of pager-mode messages. Browser consumers and the IMS side both come through here."""

from __future__ import annotations

import enum
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, QuerySet
from django.db.models.functions import Upper
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from identity_blocks.holders import Holder
from identity_blocks.models import HolderSession, IdentityAssignment
from ims import events, signals
from ims.models import CallRecord, Direction, MessageStatus, PagerMessage, ReadMarker, RefusedAttempt
from portal import limits
from portal.text import storable
from sip.uri import InvalidUri, parse_uri

log = logging.getLogger(__name__)


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
    fresh: dict[Key, PagerMessage] = {}
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
    raced = _stored(_store(list(fresh.values())) if fresh else set())
    done = [(delivery, raced.get(_key_of(m), m) if m else None) for delivery, m in cast(list[Received], answers)]
    # Every one stored, those stored before too: receivers take each only once (see ims.signals).
    delivered = {id(m): m for _, m in done if m is not None}
    taken: set[int] = set()
    if delivered:
        replies = signals.message_received.send(sender=PagerMessage, messages=list(delivered.values()))
        taken = {pk for _, ids in replies for pk in cast(list[int], ids or [])}
    events.messages_changed([m for m in fresh.values() if m.pk is not None], taken)
    return done


def _unreadable(item: Inbound) -> Received | None:
    if len(item.body) > settings.IMS_MAX_MESSAGE_BYTES:
        return Delivery.TOO_LARGE, None
    if item.content_type.split(";")[0].strip().lower() not in TEXT_TYPES:
        return Delivery.UNSUPPORTED, None
    return None


def _assignments_for(impus: set[str]) -> dict[str, Called]:
    """By upper-cased IMPU: the IMS core may change the case of a URI's host."""
    if not impus:
        return {}
    live = IdentityAssignment.objects.live().annotate(upper_impu=Upper("impu"))
    found = live.filter(upper_impu__in=[impu.upper() for impu in impus])
    # Whether its holder is here, in the same statement (a second query for it was a round trip a batch).
    here = found.annotate(present=Exists(HolderSession.objects.present().of_outer()))
    # (django-stubs types the annotation on the queryset but not through its subclass's __iter__)
    return {a.impu.upper(): Called(a, a.present) for a in here}  # type: ignore[attr-defined]


Key = tuple[str, int]  # Call-ID and CSeq: a MESSAGE's identity across retransmissions


def _key_of(message: PagerMessage) -> Key:
    return message.sip_call_id, message.sip_cseq or 0


def _stored(keys: set[Key]) -> dict[Key, PagerMessage]:
    if not keys:
        return {}
    found = PagerMessage.objects.filter(direction=Direction.INBOUND, sip_call_id__in={call_id for call_id, _ in keys})
    return {_key_of(m): m for m in found if _key_of(m) in keys}


def _store(messages: list[PagerMessage]) -> set[Key]:
    """Store those not stored before (a retransmission after its transaction ended, or one another
    process stored); returns the keys of those that were."""
    try:
        with transaction.atomic():
            PagerMessage.objects.bulk_create(messages)
        return set()
    except IntegrityError:
        if len(messages) == 1:
            messages[0].pk = None
            return {_key_of(messages[0])}
        raced: set[Key] = set()
        for message in messages:
            message.pk = None
            raced |= _store([message])
        return raced


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
    holders = {o.holder for o in outgoing}
    assignments = {Holder.of(a): a for a in IdentityAssignment.objects.live().held_by(holders)}
    for item in outgoing:
        to, assignment = item.to.strip(), assignments.get(item.holder)
        refusal = _refusal(to, item.body) or (None if assignment else MessageRefused(_("you have no IMS identity yet")))
        queued.append(refusal or PagerMessage(
            assignment=assignment, direction=Direction.OUTBOUND, local_impu=assignment.impu if assignment else "",
            remote_uri=to, content_type=item.content_type, body=item.body, sip_call_id=new_call_id(), sip_cseq=1,
        ))  # fmt: skip
    messages = [m for m in queued if isinstance(m, PagerMessage)]
    with transaction.atomic(savepoint=False):  # inside a chat batch's transaction: no savepoint round trips
        PagerMessage.objects.bulk_create(messages)
        events.messages_changed(messages)
        events.sends_requested(messages)
    return queued


def new_call_id() -> str:
    """Chosen when the MESSAGE is queued, so that its arrival back can be matched to it and a
    resend is recognisably the same message (RFC 3261 §8.1.1.4)."""
    return f"{secrets.token_hex(12)}@portal"


def _refusal(to: str, body: str) -> MessageRefused | None:
    if not (storable(to) and storable(body)):
        return MessageRefused(_("a message cannot hold a NUL character or a lone surrogate"))
    try:
        parse_uri(to)
    except InvalidUri as error:
        return MessageRefused(str(error))
    if not body.strip():
        return MessageRefused(_("the message is empty"))
    if len(body.encode()) > settings.IMS_MAX_MESSAGE_BYTES:
        return MessageRefused(
            format_lazy(_("the message is longer than {limit} bytes"), limit=settings.IMS_MAX_MESSAGE_BYTES)
        )
    return None


@dataclass(frozen=True)
class Outcome:
    """The IMS core's final answer to an outbound MESSAGE."""

    message_id: int
    status: int
    reason: str


def message_outcomes(outcomes: list[Outcome]) -> list[PagerMessage | Exception]:
    """Record a batch of answers at once (the IMS side's group commit for them)."""
    changed = _decide(PagerMessage.objects.all(), {o.message_id: _decided(o) for o in outcomes})
    return [changed.get(o.message_id) or PagerMessage.DoesNotExist(o.message_id) for o in outcomes]


def messages_to_send(shard_index: int, shard_count: int, limit: int = 500) -> list[dict[str, Any]]:
    """The shard's MESSAGEs still waiting for the core's answer, oldest first: the IMS side sends
    them on start and in its sweep, whether or not the event that asked for them reached it."""
    pending = PagerMessage.objects.to_send(shard_index, shard_count)[:limit]
    return [events.to_send(message) for message in pending]


def give_up_overdue(shard_index: int, shard_count: int) -> int:
    """MESSAGEs the core has not answered by their deadline are not delivered, and their senders
    are told so."""
    deadline = settings.IMS_MESSAGE_DEADLINE_SECONDS
    overdue = PagerMessage.objects.to_send(shard_index, shard_count).overdue(
        timezone.now() - timedelta(seconds=deadline)
    )
    ids = list(overdue.values_list("pk", flat=True)[:500])
    reason = f"no answer from the IMS core within {deadline} s"
    return len(
        _decide(
            PagerMessage.objects.filter(status=MessageStatus.PENDING),
            dict.fromkeys(ids, (MessageStatus.FAILED, reason)),
        )
    )


def _decide(among: QuerySet[PagerMessage], decided: dict[int, tuple[str, str]]) -> dict[int, PagerMessage]:
    """Record each outbound message's status and error, and tell its holder's sessions and the
    receivers of message_outcome; returns each found (with its assignment), as it now stands."""
    changed = _record(among, decided)
    events.messages_changed(list(changed.values()))
    signals.message_outcome.send(sender=PagerMessage, messages=list(changed.values()))
    return changed


def _record(among: QuerySet[PagerMessage], decided: dict[int, tuple[str, str]]) -> dict[int, PagerMessage]:
    with transaction.atomic():
        locked = among.select_for_update(of=("self",)).select_related("assignment")
        found = list(locked.filter(pk__in=decided, direction=Direction.OUTBOUND).order_by("pk"))
        by_outcome: dict[tuple[str, str], list[int]] = {}
        for message in found:
            message.status, message.error = decided[message.pk]
            by_outcome.setdefault(decided[message.pk], []).append(message.pk)
        # One UPDATE an outcome (a batch's are mostly one: sent): bulk_update's CASE per row grows with the batch.
        for (status, error), ids in by_outcome.items():
            PagerMessage.objects.filter(pk__in=ids).update(status=status, error=error)
    return {m.pk: m for m in found}


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


# Calls ------------------------------------------------------------------------------------

QUALITY_KEYS = ("codec", "packetsLost", "packetsReceived", "jitterMs", "rttMs", "kbps", "seconds")


def call_changed(event: dict[str, Any]) -> CallRecord | None:
    """Record what the IMS side told the holder's browsers of a call (an `ims.call` event)."""
    outgoing = event.get("direction") == "out"
    local, remote = (event["caller"], event["callee"]) if outgoing else (event["callee"], event["caller"])
    called = _assignment_for(str(local))
    if called is None:
        return None
    direction = Direction.OUTBOUND if outgoing else Direction.INBOUND
    fields = {"assignment": called.assignment, "direction": direction, "local_impu": called.assignment.impu}
    with transaction.atomic():
        record, _ = CallRecord.objects.select_for_update().get_or_create(
            key=str(event["call"]), defaults={**fields, "remote_uri": str(remote)[:255]}
        )
        _apply(record, event)
        record.save()
    for receiver, failure in signals.call_changed.send_robust(CallRecord, record=record, state=event.get("state")):
        if failure is not None:
            log.error("call %s: %s failed: %r", record.key, receiver, failure)
    return record


def _apply(record: CallRecord, event: dict[str, Any]) -> None:
    state = event.get("state")
    if state == "connected" and record.answered_at is None:
        record.answered_at = timezone.now()
    if state == "ended" and record.ended_at is None:
        record.ended_at, record.end_reason = timezone.now(), str(event.get("reason", ""))[:200]
    record.media = str(event.get("media") or record.media)[:12]
    record.codec = str(event.get("codec") or record.codec)[:40]


def call_quality(key: str, holder: Holder, summary: dict[str, Any]) -> bool:
    """The browser's summary of a call of the holder's identity; only known keys, numbers or short
    text, are kept."""
    record = CallRecord.objects.filter(key=key).select_related("assignment", "callee").first()
    sides = [] if record is None else [a for a in (record.assignment, record.callee) if a is not None]
    if record is None or holder not in {Holder.of(side) for side in sides}:  # a direct call has two
        return False
    kept = {k: v for k, v in summary.items() if k in QUALITY_KEYS and isinstance(v, int | float | str)}
    record.quality = {k: (v[:40] if isinstance(v, str) else v) for k, v in kept.items()}
    if record.quality.get("codec") and not record.codec:
        record.codec = str(record.quality["codec"])
    record.save(update_fields=["quality", "codec"])
    return True


# Whole sentences per kind, so that a translation need not fit a word into an English frame.
WAIT_A_MOMENT = {
    "call": _("more than {limit} calls a minute from this identity; wait a moment"),
    "message": _("more than {limit} messages a minute from this identity; wait a moment"),
}


def start_allowed(holder: Holder, to: str, kind: str) -> IdentityAssignment:
    """The identity a message or call of the holder's own (the communications page) may start
    from, or MessageRefused with the reason, recorded for the admin when it is a refusal of policy.
    A guest's identity exists for the help desk, whose conversation alone reaches the advisor."""
    try:
        parse_uri(to)
    except InvalidUri as error:
        raise MessageRefused(str(error)) from None
    assignment = IdentityAssignment.objects.live().of(holder).select_related("block__agreement__operator").first()
    if assignment is None:
        raise MessageRefused(_("you have no IMS identity yet"))
    reason = _start_refusal(holder, assignment, to, kind)
    if reason is not None:
        with translation.override(settings.LANGUAGE_CODE):  # the admin's record reads alike whoever was refused
            recorded = str(reason)
        RefusedAttempt.objects.create(
            kind=kind, holder=str(holder), local_impu=assignment.impu, destination=to[:255], reason=recorded[:200]
        )
        log.warning("refused a %s from %s to %r: %s", kind, assignment.impu, to[:255], recorded)
        raise MessageRefused(reason)  # lazy: it reads in the language of the socket that says it
    return assignment


def _start_refusal(holder: Holder, assignment: IdentityAssignment, to: str, kind: str) -> str | Promise | None:
    if not holder.is_member:
        return _("a guest of the help desk reaches only the advisor, in the conversation")
    reason = assignment.block.agreement.refusal(to)
    if reason is not None:
        return reason
    per_minute = settings.IMS_CALLS_PER_MINUTE if kind == RefusedAttempt.Kind.CALL else settings.IMS_MESSAGES_PER_MINUTE
    if not limits.allow(f"ims-{kind}", assignment.impu.lower(), per_minute, 60):
        return format_lazy(WAIT_A_MOMENT[kind], limit=per_minute)
    return None


# History ----------------------------------------------------------------------------------


def mark_read(holder: Holder, remote_uri: str, up_to: int) -> None:
    """The holder has read their messages with `remote_uri` up to message `up_to`. A marker only
    moves forward: a page of older messages read later leaves it where it is."""
    mine = IdentityAssignment.objects.of(holder)
    read = PagerMessage.objects.filter(assignment__in=mine, remote_uri=remote_uri, id__lte=up_to)
    for assignment_id in read.values_list("assignment", flat=True).distinct():
        marker, _ = ReadMarker.objects.get_or_create(assignment_id=assignment_id, remote_uri=remote_uri)
        ReadMarker.objects.filter(pk=marker.pk, read_up_to__lt=up_to).update(read_up_to=up_to)


def mark_calls_seen(holder: Holder) -> int:
    """The holder has looked at their call log: no missed call of theirs is news any more."""
    mine = IdentityAssignment.objects.of(holder)
    return CallRecord.objects.missed_by(mine).filter(seen=False).update(seen=True)
