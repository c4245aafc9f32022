"""The IMS side's database calls, each in a thread of its own pool, and the count of those running."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

SETTLE_SECONDS = 30.0  # a stopping IMS side waits this long at most for calls still running


class _InFlight:
    """Database calls running in threads. One whose caller was cancelled (the IMS side stopping)
    still runs, and its broadcast after commit needs this loop: the IMS side waits for them before
    it returns, or the loop's shutdown and the thread would wait for each other for ever."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        with self.lock:
            self.count += 1

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.count -= 1

    async def settled(self) -> None:
        """Polled: the threads cannot set an asyncio.Event of this loop without knowing it."""
        deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
        while self.count and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


IN_FLIGHT = _InFlight()


def call(function: Any) -> Any:
    """Many identities write their state at once, so several threads; each closes its connection
    when it is past CONN_MAX_AGE, as Django does at the end of a request."""

    def run(*args: Any, **kwargs: Any) -> Any:
        with IN_FLIGHT:
            try:
                return function(*args, **kwargs)
            finally:
                close_old_connections()

    return sync_to_async(run, thread_sensitive=False)
