"""Broadcasts of the help desk, after commit: a request's group (the customer's and the advisor's
sockets on it) and each advisor's group (their dashboard)."""

from __future__ import annotations

from typing import Any

from help_desk.models import Advisor, ChatMessage, HelpRequest
from portal import broadcast


def request_group(request_id: int) -> str:
    return f"help.request.{request_id}"


def advisor_group(advisor_id: int) -> str:
    return f"help.advisor.{advisor_id}"


def describe(request: HelpRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "queue": request.queue.name,
        "mode": request.mode,
        "secure": request.secure,
        "status": request.status,
        "advisor": str(request.advisor) if request.advisor_id else None,
        "created_at": request.created_at.isoformat(),
        # What a call in the conversation may carry (the service agreement's say).
        "calls": {"audio": request.queue.agreement.allows_voice, "video": request.queue.agreement.allows_video},
    }


def message(chat: ChatMessage) -> dict[str, Any]:
    return {
        "seq": chat.seq,
        "client_id": chat.client_id,
        "from_advisor": chat.from_advisor,
        "body": chat.body,
        "at": chat.created_at.isoformat(),
        "via_ims": chat.pager_message_id is not None,
        "failed": chat.failed,
    }


def request_changed(request: HelpRequest, **extra: Any) -> None:
    broadcast.after_commit(request_group(request.pk), {"type": "help.request", "request": describe(request), **extra})


def ringing(advisor: Advisor, request: HelpRequest) -> None:
    broadcast.after_commit(advisor_group(advisor.pk), {"type": "help.ringing", "request": describe(request)})


def ring_over(advisor_id: int, request: HelpRequest) -> None:
    broadcast.after_commit(advisor_group(advisor_id), {"type": "help.ring_over", "request": describe(request)})


def conversation_started(request: HelpRequest) -> None:
    assert request.advisor_id is not None
    broadcast.after_commit(
        advisor_group(request.advisor_id), {"type": "help.conversation", "request": describe(request)}
    )
    request_changed(request)


def position(request_id: int, place: int, wait_seconds: int) -> None:
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
