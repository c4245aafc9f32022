"""Group commit: many callers' items handed to one synchronous batch function in one thread hop.

At low load a batch holds one item and costs what a direct call would. Under load, items that
arrive while a batch is in the database wait for the next one, so one transaction (one commit,
one flush of the log) carries as many as came in meanwhile: throughput grows with load instead of
queueing behind a commit per item.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from portal import broadcast

# Django's connection hygiene (close_old_connections, which database_sync_to_async runs around
# every call) at most this often for a batcher: each run re-arms the health check, a SELECT 1,
# which was a round trip per batch.
TIDY_SECONDS = 1.0
Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


@dataclass
class _Line:
    """One event loop's waiting items and the task writing them."""

    pending: list[tuple[Any, asyncio.Future[Any]]] = field(default_factory=list)
    draining: asyncio.Task[None] | None = None


class Batcher(Generic[Item, Outcome]):
    """`await batcher.submit(item)` returns what `function(items)` gave for that item: the
    function returns one outcome per item, in order; an outcome that is an exception is raised
    to that item's caller only.

    A batch that finds the database connection broken (the server restarted) is written once
    more on a fresh one, so `function` must be safe to run twice on the same items: the portal's
    are (a chat message's client id, an inbound MESSAGE's Call-ID and CSeq make the second run
    find what the first stored)."""

    def __init__(
        self, function: Callable[[list[Item]], Sequence[Outcome | Exception]], limit: int = 256, linger: float = 0.0
    ) -> None:
        # linger: how long a batch's first item waits for company. Only for items no one waits on
        # (the record of an answer): at low rates each would be a hand-off and a commit alone.
        self.function, self.limit, self.linger = function, limit, linger
        self.tidy_at = 0.0
        # Per loop: a server has one, but tests run many loops one after another.
        self.lines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Line] = weakref.WeakKeyDictionary()

    async def submit(self, item: Item) -> Outcome:
        loop = asyncio.get_running_loop()
        line = self.lines.setdefault(loop, _Line())
        future: asyncio.Future[Outcome] = loop.create_future()
        line.pending.append((item, future))
        if line.draining is None or line.draining.done():
            line.draining = loop.create_task(self._drain(line))
        return await future

    async def settled(self) -> None:
        """Until what was submitted on this loop is written: a server stopping records what it
        took in, however long it lingers, before its loop ends and cancels what is left."""
        line = self.lines.get(asyncio.get_running_loop())
        if line is not None and line.draining is not None:
            await asyncio.shield(line.draining)

    async def _drain(self, line: _Line) -> None:
        if self.linger:
            await asyncio.sleep(self.linger)
        while line.pending:
            batch, line.pending = line.pending[: self.limit], line.pending[self.limit :]
            sends: broadcast.Sends = []
            try:
                write = sync_to_async(self._write, thread_sensitive=True)
                outcomes = await write([item for item, _ in batch], sends)
            except Exception as error:  # the whole batch failed: each caller hears why
                outcomes = [error] * len(batch)
            await broadcast.publish(sends)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its caller went away (socket closed)
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _write(self, items: list[Item], sends: broadcast.Sends) -> Sequence[Outcome | Exception]:
        """In the database thread. The events of what it commits gather in `sends`, published from
        the loop afterwards, so the database thread never waits for the channel layer."""
        with broadcast.gathered(sends):
            return self._write_all(items)

    def _write_all(self, items: list[Item]) -> Sequence[Outcome | Exception]:
        now = time.monotonic()
        if now >= self.tidy_at:
            close_old_connections()
            self.tidy_at = now + TIDY_SECONDS
        try:
            return self._isolating(items)
        except (InterfaceError, OperationalError):
            # The connection broke (the server restarted, a pooler dropped it), or a deadlock
            # chose this batch: once more, on a fresh connection. Inside a caller's transaction
            # the caller decides.
            if connection.in_atomic_block:
                raise
            connection.close()
            return self._isolating(items)

    def _isolating(self, items: list[Item]) -> Sequence[Outcome | Exception]:
        """One item the database refuses (a row it cannot store) fails alone: a batch that
        fails is written again in halves, down to that item, whose caller hears why. The others
        are written as if it had never come (`function` is safe to run again on them)."""
        try:
            return self.function(items)
        except (InterfaceError, OperationalError):
            raise
        except Exception as error:
            if len(items) == 1:
                return [error]
            half = len(items) // 2
            return [*self._isolating(items[:half]), *self._isolating(items[half:])]
