"""Sending channel-layer events from synchronous code (actions, Celery tasks), after commit.

`async_to_sync` is Channels' own way: inside a server's sync thread it runs the send on the
server's loop and waits for it; elsewhere (a Celery worker, a command) on a loop of its own.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)
Sends = list[tuple[str, dict[str, Any]]]


async def send_many(layer: Any, sends: Sends) -> None:
    for group, event in sends:
        await layer.group_send(group, event)


def group_send_many(sends: Sends) -> None:
    """In the order given. A failed send is logged, not raised: what it told of is committed, and
    the browsers catch up when they next sync (they resume from their last sequence number)."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    try:
        async_to_sync(send_many)(layer, sends)
    except Exception:
        log.exception("could not publish %d events", len(sends))


def group_send(group: str, event: dict[str, Any]) -> None:
    group_send_many([(group, event)])


def after_commit_many(sends: Sends) -> None:
    """Send once the current transaction commits (at once outside one): no event tells of a
    change that was rolled back."""
    transaction.on_commit(lambda: group_send_many(sends))


def after_commit(group: str, event: dict[str, Any]) -> None:
    after_commit_many([(group, event)])
