"""This process vouches for its open browser sessions: every IDENTITY_SESSION_HEARTBEAT_SECONDS
it marks their HolderSession rows seen, in one UPDATE. A process that dies without closing its
sockets (SIGKILL, a crash, a lost host) stops vouching, and the sweep
(actions.expire_stale_sessions) closes its sessions three heartbeats later, as a socket closing
would have."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from identity_blocks import actions
from identity_blocks.holders import Holder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Open:
    holder: Holder
    # The consumer's own task: one that ended without its disconnect (an exception in connect)
    # must not be vouched for forever.
    task: asyncio.Task[Any] | None


class SessionKeeper:
    """One per process; started on the server's loop by the first session that joins."""

    def __init__(self) -> None:
        self.open: dict[str, _Open] = {}
        self.beating: asyncio.Task[None] | None = None
        # A thread of its own: a heartbeat queued behind the consumers' database work in the
        # shared sync thread would make a busy process look dead.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-heartbeat")

    def opened(self, channel_name: str, holder: Holder) -> None:
        """Call from the consumer, once its session row exists."""
        loop = asyncio.get_running_loop()
        self.open[channel_name] = _Open(holder, asyncio.current_task())
        if self.beating is None or self.beating.done() or self.beating.get_loop() is not loop:
            self.beating = loop.create_task(self._beat(), name="browser session heartbeat")

    def closed(self, channel_name: str) -> None:
        """Call from the consumer before its session row is deleted."""
        self.open.pop(channel_name, None)

    async def _beat(self) -> None:
        """Runs while sessions are open; the next to open after that starts it again."""
        loop = asyncio.get_running_loop()
        every = float(settings.IDENTITY_SESSION_HEARTBEAT_SECONDS)
        due = loop.time() + every
        while self.open:
            await asyncio.sleep(max(0.0, due - loop.time()))
            due += every  # a steady beat: a slow UPDATE does not push the next one back
            sessions = self._vouched_for(loop)
            if sessions:
                await loop.run_in_executor(self.executor, self._touch, sessions)

    def _vouched_for(self, loop: asyncio.AbstractEventLoop) -> dict[str, Holder]:
        """Open sessions whose consumer still runs on this loop; the others are forgotten, and
        their rows left to the sweep."""
        gone = [name for name, entry in self.open.items() if not _running(entry.task, loop)]
        for name in gone:
            log.warning("browser session %s ended without closing; its row is left to expire", name)
            del self.open[name]
        return {name: entry.holder for name, entry in self.open.items()}

    def _touch(self, sessions: dict[str, Holder]) -> None:
        close_old_connections()
        try:
            actions.sessions_seen(sessions, self.open.__contains__)
        except Exception:
            log.exception("heartbeat of %d browser sessions failed", len(sessions))
        finally:
            close_old_connections()


def _running(task: asyncio.Task[Any] | None, loop: asyncio.AbstractEventLoop) -> bool:
    return task is None or (not task.done() and task.get_loop() is loop)


KEEPER = SessionKeeper()


def opened(channel_name: str, holder: Holder) -> None:
    KEEPER.opened(channel_name, holder)


def closed(channel_name: str) -> None:
    KEEPER.closed(channel_name)
