"""Identity assignments per second on PostgreSQL: a block of 1,000 against a block of 1,000,000.

Both blocks start fresh; the same number of guests ask, from 8 processes (an ASGI process runs
its database work on one thread, so processes are how a deployment assigns concurrently); rounds
alternate between the two sizes so that drift of the machine hits both alike.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

from bench.commits import CommitWatch
from bench.common import Result, median

WORKERS = 8
PER_ROUND = 960  # a block of 1,000 must hold a round
ROUNDS = 9  # each round is about a second; the median of 5 moved the ratio 0.89 to 1.15 between runs


def _worker(count: int, ready: Any, go: Any) -> None:
    """One process assigning `count` identities one after another, as one ASGI process's single
    database thread would: concurrency comes from processes, as in production."""
    from django.db import connections

    from identity_blocks import actions
    from identity_blocks.holders import Holder

    connections.close_all()  # a forked child must not share its parent's connection
    actions.assign_identity(Holder.guest(Holder.new_guest_key()))  # connected and warm
    ready.wait()
    go.wait()
    for _ in range(count - 1):
        actions.assign_identity(Holder.guest(Holder.new_guest_key()))
    connections.close_all()


def _assign_many(count: int) -> float:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    ready, go = context.Barrier(WORKERS + 1), context.Barrier(WORKERS + 1)
    shares = [count // WORKERS + (1 if i < count % WORKERS else 0) for i in range(WORKERS)]
    workers = [context.Process(target=_worker, args=(share, ready, go)) for share in shares]
    for worker in workers:
        worker.start()
    ready.wait()
    started = time.perf_counter()
    go.wait()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError(f"an assigning process failed (exit code {worker.exitcode})")
    return (count - WORKERS) / (time.perf_counter() - started)


def _fresh_block(size: int, round_no: int) -> int:
    from identity_blocks import actions
    from identity_blocks.models import IdentityBlock, Operator, ServiceAgreement

    operator, _ = Operator.objects.get_or_create(
        name="Bench operator",
        defaults={"home_domain": "bench.test", "realm": "bench.test", "outbound_proxy": "sip:p.bench.test"},
    )
    agreement, _ = ServiceAgreement.objects.get_or_create(
        operator=operator,
        name="Bench",
        defaults={"third_party": "Bench", "max_registrations": 10**7, "max_sessions": 1},
    )
    for block in IdentityBlock.objects.unexpired():
        actions.expire_block(block.pk)
    block = IdentityBlock(
        operator=operator,
        agreement=agreement,
        name=f"{size} #{round_no}",
        kind="sip_range",
        pattern=f"sip:r{round_no}s{size}-{{n}}@bench.test",
        first=1,
        last=size,
    )
    return actions.save_block(block).pk


def run() -> list[Result]:
    rates: dict[int, list[float]] = {1_000: [], 1_000_000: []}
    # Every assignment is a commit: the watch shows when the disk, not the claim, set the pace.
    # Its thread runs across the forks; the children never touch its connection.
    with CommitWatch(os.environ["DATABASE_URL"]) as watch:
        for round_no in range(ROUNDS):
            for size in rates:
                _fresh_block(size, round_no)
                rates[size].append(_assign_many(PER_ROUND))
    small, large = median(rates[1_000]), median(rates[1_000_000])
    name = "identity assignment"
    return [
        Result(name, "block of 1,000", small, "/s", target=">= 1,000/s", samples=rates[1_000]),
        Result(
            name,
            "block of 1,000,000",
            large,
            "/s",
            baseline="block of 1,000",
            baseline_value=small,
            target="ratio >= 0.9",
            samples=rates[1_000_000],
        ),
        *watch.results("through the assignment suite"),
    ]
