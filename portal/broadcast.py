"""Sending channel-layer events from synchronous code (actions, Celery tasks).

Inside the ASGI server, sync code runs in asgiref's threads and `async_to_sync` hands the send
back to the server's own loop. Anywhere else (a Celery worker, a management command, a thread
pool) `async_to_sync` would start a fresh event loop per call, and the Redis layer would open a
fresh connection for each one. There, sends go through one long-lived loop per process instead.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

SEND_TIMEOUT = 10.0
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_lock = threading.Lock()


def _in_server_thread() -> bool:
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop is not None and getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) == os.getpid()


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

    async def send_all() -> None:
        for group, event in sends:
            await layer.group_send(group, event)

    if _in_server_thread():
        async_to_sync(send_all)()
        return
    asyncio.run_coroutine_threadsafe(send_all(), _background_loop()).result(timeout=SEND_TIMEOUT)


def after_commit_many(sends: list[tuple[str, dict[str, Any]]]) -> None:
    from django.db import transaction

    transaction.on_commit(lambda: group_send_many(sends))


def after_commit(group: str, event: dict[str, Any]) -> None:
    """Send once the current transaction commits (at once outside one): no event tells of a
    change that was rolled back."""
    from django.db import transaction

    transaction.on_commit(lambda: group_send(group, event))
