"""Group commit: many callers' items handed to one synchronous batch function in one thread hop.

At low load a batch holds one item and costs what a direct call would. Under load, items that
arrive while a batch is in the database wait for the next one, so one transaction (one commit,
one flush of the log) carries as many as came in meanwhile: throughput grows with load instead of
queueing behind a commit per item.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from channels.db import database_sync_to_async

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
    to that item's caller only."""

    def __init__(self, function: Callable[[list[Item]], Sequence[Outcome | Exception]], limit: int = 256) -> None:
        self.function, self.limit = function, limit
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

    async def _drain(self, line: _Line) -> None:
        while line.pending:
            batch, line.pending = line.pending[: self.limit], line.pending[self.limit :]
            try:
                outcomes = await database_sync_to_async(self.function)([item for item, _ in batch])
            except Exception as error:  # the whole batch failed: each caller hears why
                outcomes = [error] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its caller went away (socket closed)
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
