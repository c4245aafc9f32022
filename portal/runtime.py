"""Process-wide tuning of the long-running servers (daphne, the IMS side).

Python's cyclic garbage collector stops the whole process to walk every tracked object on a full
collection. A server holding a thousand sockets tracks millions of objects: full collections
were measured at 100 to 390 ms in the chat benchmark, beyond the chat's 100 ms budget for p99.
What the process made while starting up (modules, settings, URL and ORM structures) lives
for good, so it is frozen out of every collection; young objects are collected less often, so
a full collection is rare and the usual one stays a few milliseconds.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # allocations between collections of the youngest generation (default 700)


def tune_gc() -> None:
    """Call once, when the server has set itself up and before it serves."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
