"""Sending channel-layer events from synchronous code (actions, Celery tasks), after commit.

`async_to_sync` is Channels' own way: inside a server's sync thread it runs the send on the
server's loop and waits for it; elsewhere (a Celery worker, a command) on a loop of its own.
A group commit (portal.batching) gathers its batch's events instead and publishes them from the
loop once the database call has returned, so that the one database thread of an ASGI process
never waits for Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)
Sends = list[tuple[str, dict[str, Any]]]
_gathering: ContextVar[Sends | None] = ContextVar("gathering", default=None)


@contextmanager
def gathered(into: Sends) -> Iterator[None]:
    """Sends made meanwhile in this context (after their commits) go to `into`, not to the layer."""
    token = _gathering.set(into)
    try:
        yield
    finally:
        _gathering.reset(token)


async def publish(sends: Sends) -> None:
    """From a loop: in the order given; a failure is logged (see group_send_many)."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    try:
        await send_many(layer, sends)
    except Exception:
        log.exception("could not publish %d events", len(sends))


async def send_many(layer: Any, sends: Sends) -> None:
    """An event the layer cannot encode (msgpack refuses an integer past 64 bits) is logged and
    skipped: the others of the batch, other people's, still go. A layer that is down stops it."""
    for group, event in sends:
        try:
            await layer.group_send(group, event)
        except (TypeError, ValueError, OverflowError):
            log.exception("could not encode a %s event for %s", event.get("type"), group)


def group_send_many(sends: Sends) -> None:
    """In the order given. A failed send is logged, not raised: what it told of is committed, and
    the browsers catch up when they next sync (they resume from their last sequence number)."""
    gathering = _gathering.get()
    if gathering is not None:
        gathering.extend(sends)
        return
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
