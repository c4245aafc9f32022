"""Direct calls: between two colleagues' browsers, WebRTC to WebRTC, the portal relaying the
signalling over its sockets (use case H.4: the third party's application facilitates sessions
between WebRTC clients itself; the IMS carries those with other endpoints). No SIP leaves for
them: the offer, the answer, re-offers and hang-ups go from one holder's browsers to the other's
over the channel layer as the same `ims.call` events an IMS call makes, so every page that rings
for one rings for the other. The call's record (ims.models.CallRecord, path `direct`) is its state
and says who may act on it: the caller's holder and the callee's, each only as their side may.

These are the state changes of such calls (the counterpart of ims.actions for calls the IMS side
never sees); each runs in one transaction with the record locked, its events sent after commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from identity_blocks import directory
from identity_blocks.holders import Holder
from identity_blocks.models import HolderSession, IdentityAssignment
from ims.models import CallRecord, Direction
from portal import broadcast

DIRECT = "direct"
RING_SECONDS = 60.0
CALLER, CALLEE = "caller", "callee"


class DirectRefused(ValueError):
    """A control of a direct call its sender may not use, with the reason for the sender."""


def place(holder: Holder, to: str, key: str, sdp: str) -> bool:
    """Ring the colleague whose identity `to` is, in every open window of theirs; False when it is
    no colleague's (the call then goes through the IMS) and nothing is done."""
    ends = directory.colleague_at(holder, to)
    if ends is None:
        return False
    mine, theirs = ends
    with transaction.atomic():
        record = CallRecord.objects.create(
            key=key, assignment=mine, callee=theirs, direction=Direction.OUTBOUND, local_impu=mine.impu,
            remote_uri=theirs.impu, media=DIRECT,
        )  # fmt: skip
        if not HolderSession.objects.present().of(Holder.of(theirs)).exists():
            _end(record, {CALLER: "480 Temporarily Unavailable"})  # no window of theirs is open
        elif _talking(theirs):
            _end(record, {CALLER: "486 Busy Here"})
        else:
            _tell(record, {CALLER: ("ringing", {}), CALLEE: ("ringing", {"sdp": sdp})})
    return True


def control(holder: Holder, key: str, action: str, sdp: str) -> bool:
    """answer / decline / hangup / update / update_answer from a browser of one side; False when
    `key` is no direct call's (an IMS call: the IMS side checks those). Raises DirectRefused when
    the call is not this holder's, or not this side's to act on that way."""
    with transaction.atomic():
        record = _locked(key)
        if record is None:
            return False
        side = _side(record, holder)
        if record.ended_at is None:
            _act(record, side, action, sdp)
    return True


def ring_out(key: str) -> None:
    """A direct call still ringing after RING_SECONDS: nobody answered."""
    with transaction.atomic():
        record = _locked(key)
        if record is not None and record.answered_at is None and record.ended_at is None:
            _end(record, {CALLER: "no answer", CALLEE: "no answer"})


def end_stranded() -> int:
    """Direct calls no socket will end: their windows' server process died (a socket ends the calls
    it carries as it closes, and its timer rings out those it placed). Ringing past RING_SECONDS,
    or answered while one side has no browser open any more; the number ended."""
    overdue = timezone.now() - timedelta(seconds=RING_SECONDS + 5)
    unanswered = CallRecord.objects.filter(media=DIRECT, answered_at=None, ended_at=None, started_at__lt=overdue)
    ringing = list(unanswered.values_list("key", flat=True))
    for key in ringing:
        ring_out(key)
    answered = CallRecord.objects.filter(media=DIRECT, answered_at__isnull=False, ended_at=None)
    dropped = [record.key for record in answered.select_related("assignment", "callee") if _deserted(record)]
    for key in dropped:
        with transaction.atomic():
            record = _locked(key)
            if record is not None and record.ended_at is None:
                _end(record, {CALLER: "the connection dropped", CALLEE: "the connection dropped"})
    return len(ringing) + len(dropped)


def _deserted(record: CallRecord) -> bool:
    sides = [record.assignment, record.callee]
    return any(side is None or not HolderSession.objects.present().of(Holder.of(side)).exists() for side in sides)


def abandon(holder: Holder, keys: set[str]) -> None:
    """The window that placed or answered these calls closed: they end as if it hung up."""
    for key in keys:
        try:
            control(holder, key, "hangup", "")
        except DirectRefused:
            continue


def _talking(identity: IdentityAssignment) -> bool:
    """In a direct call answered and not over: its windows would turn a second one down (one call
    at a time), and that decline would end it for every window; the caller hears busy instead."""
    ongoing = CallRecord.objects.filter(media=DIRECT, answered_at__isnull=False, ended_at=None)
    return ongoing.filter(Q(assignment=identity) | Q(callee=identity)).exists()


def _locked(key: str) -> CallRecord | None:
    found = CallRecord.objects.select_for_update(of=("self",)).filter(key=key, media=DIRECT)
    return found.select_related("assignment__user", "callee").first()


def _side(record: CallRecord, holder: Holder) -> str:
    if Holder.of(record.assignment) == holder:
        return CALLER
    if record.callee is not None and Holder.of(record.callee) == holder:
        return CALLEE
    raise DirectRefused(_("no such call of yours"))


def _other(side: str) -> str:
    return CALLEE if side == CALLER else CALLER


def _act(record: CallRecord, side: str, action: str, sdp: str) -> None:
    ringing = record.answered_at is None
    if action == "answer" and side == CALLEE and ringing:
        record.answered_at = timezone.now()
        record.save(update_fields=["answered_at"])
        _tell(record, {CALLER: ("connected", {"sdp": sdp}), CALLEE: ("answered", {})})
    elif action in ("decline", "hangup") and side == CALLEE and ringing:
        _end(record, {CALLER: "declined", CALLEE: "declined"})
    elif action == "hangup" and ringing:
        _end(record, {CALLER: "cancelled", CALLEE: "cancelled by the caller"})
    elif action == "hangup":
        _end(record, {side: "hung up", _other(side): "the other side hung up"})
    elif action == "update" and not ringing:
        _offer(record, side, sdp)
    elif action == "update_answer" and record.offering == _other(side):
        record.offering = ""
        record.save(update_fields=["offering"])
        _tell(record, {_other(side): ("updated", {"sdp": sdp})})
    elif action == "answer":
        raise DirectRefused(_("this call is not ringing for you"))


def _offer(record: CallRecord, side: str, sdp: str) -> None:
    """A mid-call offer (hold, camera, an ICE restart) to the other side's browsers. One crossing
    another (both sides restart ICE after the path dropped) is refused as SIP's 491 would refuse
    it; its browser rolls back and offers again a moment later (static/js/call.js)."""
    if record.offering:
        _tell(record, {side: ("update_failed", {"status": 491, "reason": "Request Pending"})})
        return
    record.offering = side
    record.save(update_fields=["offering"])
    _tell(record, {_other(side): ("update", {"sdp": sdp})})


def _end(record: CallRecord, reasons: dict[str, str]) -> None:
    record.ended_at, record.end_reason = timezone.now(), reasons[CALLER][:200]
    record.save(update_fields=["ended_at", "end_reason"])
    _tell(record, {side: ("ended", {"reason": reason}) for side, reason in reasons.items()})


def _tell(record: CallRecord, states: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """An `ims.call` event to each side's browsers, as an IMS call's would read on that side."""
    assert record.callee is not None
    ends: dict[str, IdentityAssignment] = {CALLER: record.assignment, CALLEE: record.callee}
    common = {"type": "ims.call", "call": record.key, "caller": record.local_impu, "callee": record.remote_uri}
    if record.assignment.user is not None:  # the callee's windows show a colleague by name
        common["caller_name"] = record.assignment.user.get_full_name() or record.assignment.user.get_username()
    sends = []
    for side, (state, extra) in states.items():
        event = {**common, "state": state, "direction": "out" if side == CALLER else "in", "media": DIRECT, **extra}
        sends.append((Holder.of(ends[side]).group, event))
    broadcast.after_commit_many(sends)
