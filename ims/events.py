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


def message_changed(message: PagerMessage) -> None:
    broadcast.after_commit(_holder(message).group, {"type": "ims.message", "message": describe(message)})


def messages_changed(messages: list[PagerMessage]) -> None:
    broadcast.after_commit_many([(_holder(m).group, {"type": "ims.message", "message": describe(m)}) for m in messages])


def send_requested(message: PagerMessage) -> None:
    event = {"type": "ims.message.send", "message": message.pk, "assignment": message.assignment_id}
    broadcast.after_commit(IMS_GROUP, event)
