"""Broadcasts of pager messages to the holder's browser sessions and to the IMS side, after commit."""

from __future__ import annotations

from typing import Any

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


def _holder(message: PagerMessage) -> Holder:
    return Holder.of(message.assignment)


def messages_changed(messages: list[PagerMessage]) -> None:
    broadcast.after_commit_many(
        [(_holder(m).pager_group, {"type": "ims.message", "message": describe(m)}) for m in messages]
    )


def sends_requested(messages: list[PagerMessage]) -> None:
    """One event for the batch; it carries what to send, so the IMS side need not read it back."""
    if not messages:
        return
    outgoing = [
        {"id": m.pk, "assignment": m.assignment_id, "to": m.remote_uri, "content_type": m.content_type, "body": m.body}
        for m in messages
    ]
    broadcast.after_commit(IMS_GROUP, {"type": "ims.message.send", "messages": outgoing})
