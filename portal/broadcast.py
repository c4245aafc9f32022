"""Sending channel-layer events from synchronous code (actions, Celery tasks).

Inside a server (daphne, the IMS side), sync code runs in asgiref's threads: its sends are handed
to the server's own loop, where one task per loop publishes them in the order they were handed
over, and the thread goes on at once. It used to wait until Redis had them, which held the one
database thread of an ASGI process idle for every batch's events. Anywhere else (a Celery
worker, a management command, a thread pool) sends go through one long-lived loop per process
and are waited for: a fresh loop per call would open a fresh Redis connection each time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from typing import Any

from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer

SEND_TIMEOUT = 10.0
log = logging.getLogger(__name__)
_Sends = list[tuple[str, dict[str, Any]]]
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_lock = threading.Lock()


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The loop of the server whose sync thread this is, if it is one."""
    loop: asyncio.AbstractEventLoop | None = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() else None


# Per server loop: what waits to be published, in order, and the one task publishing it.
_outboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Queue[_Sends]] = weakref.WeakKeyDictionary()
_publishers: set[asyncio.Task[None]] = set()  # the loop keeps only a weak reference to a task


def _hand_over(sends: _Sends) -> None:
    """On the server's loop: queue the sends behind those handed over before them."""
    loop = asyncio.get_running_loop()
    if loop not in _outboxes:
        _outboxes[loop] = asyncio.Queue()
        _publishers.add(loop.create_task(_publish(_outboxes[loop])))
    _outboxes[loop].put_nowait(sends)


async def _publish(outbox: asyncio.Queue[_Sends]) -> None:
    layer = get_channel_layer()
    assert layer is not None
    while True:
        sends = list(await outbox.get())
        while not outbox.empty():  # whatever else waits goes in the same round trip
            sends.extend(outbox.get_nowait())
        try:
            await send_many(layer, sends)
        except Exception:  # committed already: the clients catch up when they resume
            log.exception("could not publish %d events", len(sends))


async def send_many(layer: Any, sends: _Sends) -> None:
    """In order; in one round trip where the layer can (portal.layer), else one by one."""
    many = getattr(layer, "group_send_many", None)
    if many is not None:
        await many(sends)
        return
    for group, event in sends:
        await layer.group_send(group, event)


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid():  # a forked worker needs its own
            _loop, _loop_pid = asyncio.new_event_loop(), os.getpid()
            threading.Thread(target=_loop.run_forever, name="channel-layer-sender", daemon=True).start()
        return _loop


def group_send(group: str, event: dict[str, Any]) -> None:
    group_send_many([(group, event)])


def group_send_many(sends: list[tuple[str, dict[str, Any]]]) -> None:
    """Several sends in one hop to the loop, one after another in the order given."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return

    server = _server_loop()
    if server is not None:
        server.call_soon_threadsafe(_hand_over, sends)
        return

    asyncio.run_coroutine_threadsafe(send_many(layer, sends), _background_loop()).result(timeout=SEND_TIMEOUT)


def after_commit_many(sends: list[tuple[str, dict[str, Any]]]) -> None:
    from django.db import transaction

    transaction.on_commit(lambda: group_send_many(sends))


def after_commit(group: str, event: dict[str, Any]) -> None:
    """Send once the current transaction commits (at once outside one): no event tells of a
    change that was rolled back."""
    from django.db import transaction

    transaction.on_commit(lambda: group_send(group, event))
