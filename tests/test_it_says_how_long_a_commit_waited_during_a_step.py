"""The chat suite watches durable commits while it runs (bench.commits): every message the
portal delivers was committed first, and a stalled flush to disk fails a step's p99 whatever its
rate. Each step's summary says the slowest commit meanwhile, and the results count the stalls."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from bench import load
from bench.commits import CommitWatch


def hold_the_table(url: str, seconds: float) -> threading.Thread:
    """Another session locks the watch's table, as a flush that does not return holds a commit."""
    locked = threading.Event()

    def hold() -> None:
        with psycopg.connect(url) as db:
            db.execute("LOCK TABLE bench_commit_watch IN ACCESS EXCLUSIVE MODE")
            locked.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait(5)
    return thread


def test_it_names_the_slowest_commit_of_a_step(fresh_database: str) -> None:
    with CommitWatch(fresh_database, interval=0.01) as watch:
        first = time.perf_counter() + 5
        while not watch.samples and time.perf_counter() < first:  # the table exists once one is in
            time.sleep(0.01)
        held_from = time.perf_counter()
        hold_the_table(fresh_database, 0.4).join()
        released = time.perf_counter()
        deadline = released + 5
        # It goes on committing after the wait (this machine's disk may itself stall meanwhile).
        while not any(started > released for started, _ in watch.samples) and time.perf_counter() < deadline:
            time.sleep(0.01)
        held = (held_from, time.perf_counter())
    assert max(watch.during(*held)) >= 0.35
    assert watch.note(*held).startswith("slowest commit ")
    assert int(watch.note(*held).split()[2]) >= 350
    assert any(started > released for started, _ in watch.samples)
    p50, _, slowest, stalls = watch.figures()
    assert slowest >= 350
    assert stalls >= 1
    assert p50 < slowest


def test_it_puts_the_note_in_the_step_summary() -> None:
    step = load.Step(100.0, 400, 400, 4.0, [0.01] * 400, "slowest commit 216 ms")
    again = step.and_then(load.Step(100.0, 400, 400, 4.0, [0.01] * 400, "slowest commit 3 ms"))
    assert step.summary().endswith("(slowest commit 216 ms)")
    assert again.note == "slowest commit 216 ms; slowest commit 3 ms"
    assert "slowest" not in load.Step(100.0, 1, 1, 1.0, [0.01]).summary()


def test_it_stops_the_suite_when_it_cannot_watch(postgres_admin_url: str) -> None:
    with pytest.raises(psycopg.OperationalError), CommitWatch(postgres_admin_url.rsplit("/", 1)[0] + "/no_such_db"):
        pass
