"""A log of junk (malformed or unwanted messages) that an attacker cannot flood: per source, one
line per interval, the next saying how many were left out meanwhile."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger("sip.junk")

INTERVAL_SECONDS = 60.0
MAX_SOURCES = 4096  # beyond this, the quietest sources are forgotten (spoofed sources are endless)


class JunkLog:
    def __init__(
        self, interval: float = INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic,
        max_sources: int = MAX_SOURCES,
    ) -> None:  # fmt: skip
        self.interval, self.clock, self.max_sources = interval, clock, max_sources
        # Per source host: when its last line was written, and how many were left out since.
        self._sources: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def note(self, host: str, port: int, what: str) -> bool:
        """Log `what` from host:port unless this host had a line within the interval; True if logged."""
        now = self.clock()
        last = self._sources.get(host)
        if last is not None and now - last[0] < self.interval:
            self._sources[host] = (last[0], last[1] + 1)
            return False
        left_out = last[1] if last is not None else 0
        suffix = f" ({left_out} more from {host} not logged in the last {self.interval:g} s)" if left_out else ""
        log.info("%s from %s:%s%s", what, host, port, suffix)
        self._sources[host] = (now, 0)
        self._sources.move_to_end(host)
        while len(self._sources) > self.max_sources:
            self._sources.popitem(last=False)
        return True
