"""Broadcasts of pager messages to the holder's browser sessions and to the IMS side, after commit."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.conf import settings

from identity_blocks.events import IMS_GROUP
from identity_blocks.holders import Holder
from ims.models import PagerMessage
from portal import broadcast


def describe(message: PagerMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "direction": message.direction,
        "local": message.local_impu,
        "remote": message.remote_uri,
        "content_type": message.content_type,
        "body": message.body,
        "status": message.status,
        "error": message.error,
        "at": message.created_at.isoformat(),
    }


def _taken(message: PagerMessage, taken: Collection[int]) -> dict[str, bool]:
    return {"taken": True} if message.pk in taken else {}


def _holder(message: PagerMessage) -> Holder:
    return Holder.of(message.assignment)


def messages_changed(messages: list[PagerMessage], taken: Collection[int] = ()) -> None:
    """`taken`: ids of messages a service shows as its own (a conversation's chat), which the
    holder's windows then need not show again."""
    broadcast.after_commit_many(
        [(_holder(m).pager_group, {"type": "ims.message", "message": describe(m) | _taken(m, taken)}) for m in messages]
    )


def to_send(message: PagerMessage) -> dict[str, Any]:
    """What the IMS side needs to send a MESSAGE, so that it need not read it back."""
    return {
        "id": message.pk,
        "assignment": message.assignment_id,
        "to": message.remote_uri,
        "content_type": message.content_type,
        "body": message.body,
        "call_id": message.sip_call_id,
        "deadline": message.created_at.timestamp() + settings.IMS_MESSAGE_DEADLINE_SECONDS,
    }


def sends_requested(messages: list[PagerMessage]) -> None:
    """One event for the batch, to wake the IMS side at once: should it be lost (the IMS side
    down, Redis restarting), the IMS side's sweep finds the messages in the database."""
    if messages:
        broadcast.after_commit(IMS_GROUP, {"type": "ims.message.send", "messages": [to_send(m) for m in messages]})
