"""Process-wide tuning of the long-running servers (daphne, the IMS side).

Python's cyclic garbage collector stops the whole process to walk every tracked object on a full
collection. A server holding a thousand sockets tracks millions of objects: full collections
were measured at 100 to 390 ms in the chat benchmark, beyond the chat's 100 ms budget for p99.
What the process made while starting up (modules, settings, URL and ORM structures) lives
for good, so it is frozen out of every collection; young objects are collected less often, so
a full collection is rare and the usual one stays a few milliseconds.

autobahn (daphne's WebSocket protocol) builds the arguments of a debug line for every frame it
sends and every read it takes, whether debug logging is on or not: each an ANSI-coloured
qualified name and values through click.style, 5 % of an ASGI loop's time in the chat benchmark
at moderate rates. Those lines keep their text, uncoloured, and cost nothing to build.
"""

from __future__ import annotations

import gc
from typing import TypeVar

T = TypeVar("T")

YOUNG_THRESHOLD = 10_000  # allocations between collections of the youngest generation (default 700)


def tune_gc() -> None:
    """Call once, when the server has set itself up and before it serves."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def _as_is(value: T, *args: object, **kwargs: object) -> T:
    """The value itself: a log line formats it only if it is ever emitted."""
    return value


def plain_autobahn_logs() -> None:
    """Call once in a process that serves WebSockets through daphne."""
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    for module in (protocol, twisted_websocket):
        module.hltype = module.hlval = _as_is  # type: ignore[attr-defined]
