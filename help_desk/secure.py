"""The secure chat line of a conversation (use case H.6): a WebRTC data channel end to end between
Jane's browser and her advisor's, DTLS keyed by the two browsers alone. Its session is set up like
a call, an INVITE from the asker's identity to the other side's through the operator's IMS core,
which conveys it without bearer level conversion (ims.media passes a data channel's SDP through or
refuses it). What is said on it never reaches the portal: here are only who may ask for the line,
and the record that a secure segment started and ended, between whom, and whether each side
verified the short authentication string.

The IMS side connects the session (200, ACK) before the browsers' DTLS handshake, which may still
refuse the keys: a segment counts as a secure chat only once each browser has reported its end of
the channel open (`secure.opened` on its own socket; neither can report for the other). One that
ended without both is recorded as a line that could not be opened, with the reason."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from help_desk import calls, events
from help_desk.chat import side_of
from help_desk.models import HelpRequest, RequestStatus, SecureSegment
from identity_blocks.holders import Holder
from ims import signals
from ims.media import DATA_CHANNEL


def placement(request_id: int, holder: Holder) -> calls.Placement:
    """Where the secure line's INVITE from `holder` goes. Raises NotYours or CallRefused."""
    request = HelpRequest.objects.select_related("advisor", "queue__agreement").get(pk=request_id)
    from_advisor = side_of(request, holder)
    if request.status != RequestStatus.ACTIVE:
        raise calls.CallRefused(_("The conversation is not open."))
    if not request.queue.agreement.allows_secure_chat:
        raise calls.CallRefused(_("Secure chat is not part of this service."))
    return calls.Placement(*calls.ends(request, holder, from_advisor), video=False)


def segment_started(local: str, remote: str, outgoing: bool, key: str) -> SecureSegment | None:
    """A leg of a data channel's session between the two identities of an open conversation is
    connected: the conversation's open segment, or a new one, takes the leg."""
    asker = local if outgoing else remote
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().filter(pk__in=_between(local, remote)).first()
        if request is None:
            return None
        segment = request.secure_segments.open().first()
        if segment is None:
            segment = SecureSegment(request=request, customer_impu=request.customer_impu)
            segment.advisor_impu = request.advisor_impu
            segment.asked_by_advisor = asker.lower() == request.advisor_impu.lower()
        setattr(segment, "asker_call" if outgoing else "answerer_call", key)
        segment.save()
        events.secure_segment(segment)
    return segment


def _between(local: str, remote: str) -> list[int]:
    return list(HelpRequest.objects.open_between(local, remote).values_list("pk", flat=True)[:1])


def segment_ended(key: str, reason: str) -> None:
    """Either leg ended: the session is over (the other leg's end finds nothing open)."""
    with transaction.atomic():
        segment = SecureSegment.objects.select_for_update().open().of_call(key).first()
        if segment is not None:
            _end(segment, reason)


def _end(segment: SecureSegment, reason: str) -> None:
    segment.ended_at, segment.end_reason = timezone.now(), reason[:200]
    segment.save(update_fields=["ended_at", "end_reason"])
    events.secure_segment(segment)


def end_open_segments(request_id: int) -> None:
    """The conversation closed: whatever the browsers still do, the record says it ended."""
    for segment in SecureSegment.objects.select_for_update().open().filter(request_id=request_id):
        _end(segment, "the conversation closed")


def mark_verified(request_id: int, holder: Holder) -> SecureSegment | None:
    """The holder compared the short authentication strings and they matched."""
    return _mark_own_side(request_id, holder, "verified")


def mark_opened(request_id: int, holder: Holder) -> SecureSegment | None:
    """The holder's browser has the secure line's channel open (DTLS accepted the other's keys).
    None while no segment is open: the browser reports again once the segment's event reaches it."""
    return _mark_own_side(request_id, holder, "opened")


def _mark_own_side(request_id: int, holder: Holder, what: str) -> SecureSegment | None:
    with transaction.atomic():
        request = HelpRequest.objects.select_related("advisor").select_for_update(of=("self",)).get(pk=request_id)
        field = f"{what}_by_advisor" if side_of(request, holder) else f"{what}_by_customer"
        segment = request.secure_segments.open().first()
        if segment is None:
            return None
        setattr(segment, field, True)
        segment.save(update_fields=[field])
        events.secure_segment(segment)
    return segment


@receiver(signals.call_changed)
def _session_changed(sender: Any, record: Any, state: str, **kwargs: Any) -> None:
    """From the IMS side: each leg's record, as its state changes."""
    if state == "connected" and record.codec == DATA_CHANNEL:
        segment_started(record.local_impu, record.remote_uri, record.direction == "out", record.key)
    elif state == "ended":
        segment_ended(record.key, record.end_reason)
