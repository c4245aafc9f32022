"""A conversation's transcript: its unsecured chat, with times and names, as the customer
downloads it or has it e-mailed once the conversation ended. The secure chat line's messages
were never stored (help_desk.secure): the transcript says where one was, and nothing of it."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from help_desk.models import ChatMessage, HelpRequest, SecureSegment


def _at(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M:%S")


def _secure_note(segment: SecureSegment) -> str:
    if not segment.opened:  # asked and set up, but the browsers never had it open: nothing was said on it
        return f"[{_at(segment.started_at)}] {segment.outcome}; nothing was sent on it."
    until = f" to {_at(segment.ended_at)}" if segment.ended_at else ""
    return (
        f"[{_at(segment.started_at)}] Secure chat{until}: end to end between the two browsers; "
        "the portal never stored it, so it is not in this transcript."
    )


def text(request: HelpRequest, *, for_advisor: bool = False) -> str:
    """The transcript, oldest first, for the customer (or the advisor); times in the portal's
    time zone (TIME_ZONE)."""
    advisor = (request.advisor.display_name or "Advisor") if request.advisor is not None else "Advisor"
    names = {True: "You", False: "Customer"} if for_advisor else {True: advisor, False: "You"}
    entries = [
        (message.created_at, f"[{_at(message.created_at)}] {names[message.from_advisor]}: {message.body}")
        for message in ChatMessage.objects.filter(request=request, seq__isnull=False).order_by("seq")
    ]
    entries += [(segment.started_at, _secure_note(segment)) for segment in request.secure_segments.all()]
    started = timezone.localtime(request.created_at)
    head = f"{request.queue.shown_name}: conversation #{request.pk} ({started:%Y-%m-%d %H:%M} {settings.TIME_ZONE})"
    return "\n".join([head, "", *(line for _, line in sorted(entries, key=lambda entry: entry[0]))]) + "\n"


def mail(request_id: int, address: str) -> None:
    """E-mail the transcript to the address the customer gave (Django's e-mail backend)."""
    request = HelpRequest.objects.select_related("queue", "advisor__user").get(pk=request_id)
    subject = f"{request.queue.shown_name}: the transcript of your conversation #{request.pk}"
    send_mail(subject, text(request), None, [address])
