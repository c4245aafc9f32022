"""What a durable commit costs on this machine while a suite runs (chat, assignment).

Every message the portal delivers was committed first, and a commit returns once PostgreSQL has
flushed its log to disk (`fdatasync`); the bare relay stores nothing. On a virtual machine that
flush can stall: on one machine of this kind, 8 KiB writes each followed by `fdatasync` took
0.2 ms at the median and 786 ms at worst in 15 s with nothing else running. A stall holds back
every commit in flight, so a step's p99 passes 100 ms whatever its rate. The watch commits one
row 20 times a second on its own connection, next to the suites' hundreds, so that each step
of the chat search can say what the disk did meanwhile."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import psycopg

from bench.common import Result, percentile

INTERVAL = 0.05
STALL = 0.1  # seconds: a commit this slow fails a step's 100 ms bound on its own


class CommitWatch:
    def __init__(self, url: str, interval: float = INTERVAL) -> None:
        self.url, self.interval = url, interval
        self.samples: list[tuple[float, float]] = []  # (started, seconds), time.perf_counter
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="commit-watch", daemon=True)
        self.ready = threading.Event()
        self.error: Exception | None = None

    def __enter__(self) -> CommitWatch:
        self.thread.start()
        self.ready.wait(10)
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        try:
            # Autocommit: one round trip a sample, the INSERT and its commit, which waits for the flush.
            db = psycopg.connect(self.url, autocommit=True)
            db.execute("CREATE TABLE IF NOT EXISTS bench_commit_watch (at timestamptz NOT NULL DEFAULT now())")
        except Exception as error:  # the suite should not run blind; __enter__ raises it
            self.error = error
            self.ready.set()
            return
        self.ready.set()
        with db:
            while not self.stopping.wait(self.interval):
                started = time.perf_counter()
                db.execute("INSERT INTO bench_commit_watch DEFAULT VALUES")
                self.samples.append((started, time.perf_counter() - started))

    def during(self, since: float, until: float) -> list[float]:
        """Seconds of each commit that was waiting at some time between the two."""
        return [seconds for started, seconds in list(self.samples) if started < until and started + seconds > since]

    def note(self, since: float, until: float) -> str:
        waited = self.during(since, until)
        return f"slowest commit {1000 * max(waited):.0f} ms" if waited else ""

    def figures(self) -> tuple[float, float, float, int]:
        """Over the whole watch: p50, p99 and the slowest in ms, and how many took STALL or more."""
        ordered = sorted(seconds for _, seconds in self.samples) or [0.0]
        p50, p99 = (1000 * percentile(ordered, q) for q in (0.5, 0.99))
        return p50, p99, 1000 * ordered[-1], sum(1 for s in ordered if s >= STALL)

    def results(self, during: str) -> list[Result]:
        p50, p99, slowest, stalls = self.figures()
        name = f"durable commit, one row, {during}"
        return [
            Result(name, "p50", p50, "ms"),
            Result(name, "p99", p99, "ms"),
            Result(name, "slowest", slowest, "ms"),
            Result(name, "commits of 100 ms or more", stalls, "commits", "all", len(self.samples)),
        ]
