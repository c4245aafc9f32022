"""State changes of pager-mode messages. Browser consumers and the IMS side both come through here."""

from __future__ import annotations

import enum

from django.conf import settings
from django.db import IntegrityError, transaction

from identity_blocks.actions import has_open_session
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from ims import events, signals
from ims.models import Direction, MessageStatus, PagerMessage
from ims.sip.uri import InvalidUri, parse_uri


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


def _assignment_for(impu: str) -> IdentityAssignment | None:
    return IdentityAssignment.objects.live().filter(impu__iexact=impu).select_related("block").first()


def receive_message(
    impu: str, sender: str, content_type: str, body: bytes, *, call_id: str, cseq: int
) -> tuple[Delivery, PagerMessage | None]:
    """Store an inbound MESSAGE for the holder of `impu` and hand it to their open sessions."""
    if len(body) > settings.IMS_MAX_MESSAGE_BYTES:
        return Delivery.TOO_LARGE, None
    if content_type.split(";")[0].strip().lower() not in TEXT_TYPES:
        return Delivery.UNSUPPORTED, None
    assignment = _assignment_for(impu)
    if assignment is None:
        return Delivery.NOT_ASSIGNED, None
    present = has_open_session(Holder.of(assignment))
    if not present and not any(
        kept for _, kept in signals.message_wanted.send(PagerMessage, local=impu, remote=sender)
    ):
        return Delivery.NO_SESSION, None
    try:
        with transaction.atomic():
            message = PagerMessage.objects.create(
                assignment=assignment, direction=Direction.INBOUND, local_impu=assignment.impu, remote_uri=sender,
                content_type=content_type, body=_chat_text(body), status=MessageStatus.DELIVERED,
                sip_call_id=call_id, sip_cseq=cseq,
            )  # fmt: skip
            events.message_changed(message)
            signals.message_received.send(sender=PagerMessage, message=message)
    except IntegrityError:  # the same MESSAGE again: already stored and shown
        message = PagerMessage.objects.get(direction=Direction.INBOUND, sip_call_id=call_id, sip_cseq=cseq)
    return Delivery.STORED, message


def send_message(holder: Holder, to: str, body: str, content_type: str = "text/plain") -> PagerMessage:
    """Queue a MESSAGE from the holder's identity; the IMS side sends it and reports the outcome."""
    to = to.strip()
    try:
        parse_uri(to)
    except InvalidUri as error:
        raise MessageRefused(str(error)) from None
    if not body.strip():
        raise MessageRefused("the message is empty")
    if len(body.encode()) > settings.IMS_MAX_MESSAGE_BYTES:
        raise MessageRefused(f"the message is longer than {settings.IMS_MAX_MESSAGE_BYTES} bytes")
    assignment = IdentityAssignment.objects.live().of(holder).first()
    if assignment is None:
        raise MessageRefused("you have no IMS identity yet")
    with transaction.atomic():
        message = PagerMessage.objects.create(
            assignment=assignment, direction=Direction.OUTBOUND, local_impu=assignment.impu, remote_uri=to,
            content_type=content_type, body=body,
        )  # fmt: skip
        events.message_changed(message)
        events.send_requested(message)
    return message


def message_outcome(message_id: int, *, status: int, reason: str) -> PagerMessage:
    """The IMS core's answer to an outbound MESSAGE."""
    with transaction.atomic():
        message = PagerMessage.objects.select_for_update().select_related("assignment").get(pk=message_id)
        if 200 <= status < 300:
            message.status, message.error = MessageStatus.SENT, ""
        else:
            message.status, message.error = MessageStatus.FAILED, f"{status} {reason}"[:300]
        message.save(update_fields=["status", "error"])
        events.message_changed(message)
        signals.message_outcome.send(sender=PagerMessage, message=message)
    return message


def outbound(message_id: int) -> PagerMessage | None:
    return PagerMessage.objects.filter(
        pk=message_id, direction=Direction.OUTBOUND, status=MessageStatus.PENDING
    ).first()


def callee(impu: str) -> tuple[int, str, bool] | None:
    """For an incoming call: the assignment, its holder's group, and whether a browser is open."""
    assignment = _assignment_for(impu)
    if assignment is None:
        return None
    holder = Holder.of(assignment)
    return assignment.pk, holder.group, has_open_session(holder)


def holder_group(assignment_id: int) -> str | None:
    """Whose browsers a live assignment's events go to."""
    assignment = IdentityAssignment.objects.live().filter(pk=assignment_id).first()
    return None if assignment is None else Holder.of(assignment).group
