"""Broadcasts of the help desk, after commit: a request's group (the customer's and the advisor's
sockets on it) and each advisor's group (their dashboard)."""

from __future__ import annotations

from typing import Any

from help_desk.models import Advisor, ChatMessage, HelpRequest, OfflineMessage, Rating, RequestStatus, SecureSegment
from portal import broadcast
from portal.said import Said


def request_group(request_id: int) -> str:
    return f"help.request.{request_id}"


def advisor_group(advisor_id: int) -> str:
    return f"help.advisor.{advisor_id}"


def queue_group(queue_id: int) -> str:
    """The desks of the queue's advisors: they see its waiting line."""
    return f"help.queue.{queue_id}"


def describe(request: HelpRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "queue": request.queue.name,
        "queue_id": request.queue_id,
        "mode": request.mode,
        "secure": request.secure,
        "status": request.status,
        "advisor": str(request.advisor) if request.advisor_id else None,
        "advisor_name": request.advisor.display_name if request.advisor is not None else None,
        "created_at": request.created_at.isoformat(),
        "accepted_at": request.accepted_at.isoformat() if request.accepted_at else None,
        "came_from": request.came_from,
        "customer_left": request.customer_left_at is not None,
        # What a call in the conversation may carry (the service agreement's say).
        "calls": {"audio": request.queue.agreement.allows_voice, "video": request.queue.agreement.allows_video},
        "secure_chat": request.queue.agreement.allows_secure_chat,
        "rating": rating(request),
    }


def rating(request: HelpRequest) -> dict[str, Any] | None:
    """The customer's rating, which only an ended conversation can have."""
    if request.status != RequestStatus.CLOSED:
        return None
    found = Rating.objects.filter(request_id=request.pk).first()
    return {"score": found.score, "comment": found.comment} if found else None


def message(chat: ChatMessage) -> dict[str, Any]:
    return {
        "seq": chat.seq,
        "client_id": chat.client_id,
        "from_advisor": chat.from_advisor,
        "body": chat.body,
        "at": chat.created_at.isoformat(),
        "via_ims": chat.pager_message_id is not None,
        "failed": chat.failed,
        "read": chat.read_at is not None,
    }


def who(request: HelpRequest) -> str | None:
    """The customer's name; None for a guest, whom each desk calls a guest in its own language."""
    user = request.user
    return (user.get_full_name() or user.get_username()) if user is not None else None


def in_line(request: HelpRequest) -> dict[str, Any]:
    """A waiting request as the desks show it: who, since when, what they asked for."""
    return {
        "id": request.pk,
        "queue": request.queue_id,
        "who": who(request),
        "mode": request.mode,
        "secure": request.secure,
        "since": request.created_at.isoformat(),
        "came_from": request.came_from,
        "ringing": str(request.ringing_advisor) if request.ringing_advisor_id else None,
        "here": request.customer_away_since is None,
    }


def request_changed(request: HelpRequest, **extra: Any) -> None:
    broadcast.after_commit(request_group(request.pk), {"type": "help.request", "request": describe(request), **extra})


def ringing(advisor: Advisor, request: HelpRequest) -> None:
    broadcast.after_commit(advisor_group(advisor.pk), {"type": "help.ringing", "request": describe(request)})


def ring_over(advisor_id: int, request: HelpRequest, reason: str) -> None:
    """`reason`: missed, declined, left (the customer), or why the advisor stopped taking requests."""
    event = {"type": "help.ring_over", "request": describe(request), "reason": reason}
    broadcast.after_commit(advisor_group(advisor_id), event)


def presence(advisor_id: int, presence: str, reason: Said | None = None) -> None:
    """To every desk of the advisor: their presence, and why when the portal changed it (said in
    each desk's own language by its socket)."""
    broadcast.after_commit(advisor_group(advisor_id), {"type": "help.presence", "presence": presence, "reason": reason})


def line(queue_id: int, waiting: list[HelpRequest]) -> None:
    event = {"type": "help.line", "queue": queue_id, "line": [in_line(r) for r in waiting]}
    broadcast.after_commit(queue_group(queue_id), event)


def conversation_started(request: HelpRequest) -> None:
    assert request.advisor_id is not None
    broadcast.after_commit(
        advisor_group(request.advisor_id), {"type": "help.conversation", "request": describe(request)}
    )
    request_changed(request)


def transferred(request: HelpRequest, from_advisor_id: int, to: str) -> None:
    """The first advisor's desks let go of the conversation (help_desk.conversation.DeskConsumer);
    the new advisor's desks open it, or it waits in the new queue's line; her page shows whom
    she talks with now."""
    event = {"type": "help.transferred", "request": request.pk, "to": to}
    broadcast.after_commit(advisor_group(from_advisor_id), event)
    if request.advisor_id is not None:
        conversation_started(request)
    else:
        request_changed(request)


def inbox(queue_id: int) -> None:
    """To the queue's desks: how many of its messages are unanswered now."""
    unanswered = OfflineMessage.objects.filter(queue_id=queue_id, answered_at__isnull=True).count()
    broadcast.after_commit(queue_group(queue_id), {"type": "help.inbox", "queue": queue_id, "unanswered": unanswered})


def position(request_id: int, place: int, wait_seconds: int | None) -> None:
    """`expected_wait` is None while no advisor takes requests."""
    event = {"type": "help.position", "position": place, "expected_wait": wait_seconds}
    broadcast.after_commit(request_group(request_id), event)


def _chat_event(chat: ChatMessage) -> tuple[str, dict[str, Any]]:
    event = {"type": "chat.message", "request": chat.request_id, "message": message(chat)}
    return request_group(chat.request_id), event


def chat_message(chat: ChatMessage) -> None:
    broadcast.after_commit(*_chat_event(chat))


def chat_messages(chats: list[ChatMessage]) -> None:
    """A batch's messages in one hop to the channel layer, in the order given."""
    broadcast.after_commit_many([_chat_event(chat) for chat in chats])


def chat_read(request_id: int, up_to: int, *, by_advisor: bool) -> None:
    broadcast.after_commit(
        request_group(request_id),
        {"type": "chat.read", "request": request_id, "up_to": up_to, "by_advisor": by_advisor},
    )


def secure_segment(segment: SecureSegment) -> None:
    """To both sides: the secure line started or ended (what was said on it is never stored)."""
    described = {
        "id": segment.pk,
        "started_at": segment.started_at.isoformat(),
        "ended_at": segment.ended_at.isoformat() if segment.ended_at else None,
        "asked_by_advisor": segment.asked_by_advisor,
        "end_reason": segment.end_reason,
        "opened_by_customer": segment.opened_by_customer,
        "opened_by_advisor": segment.opened_by_advisor,
        "opened": segment.opened,
        "verified_by_customer": segment.verified_by_customer,
        "verified_by_advisor": segment.verified_by_advisor,
    }
    event = {"type": "secure.segment", "request": segment.request_id, "segment": described}
    broadcast.after_commit(request_group(segment.request_id), event)
