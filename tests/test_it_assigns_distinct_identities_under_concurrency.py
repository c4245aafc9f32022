"""64 concurrent requests for a block of 50 on real PostgreSQL: 50 distinct IMPUs, 14 refusals,
whether the block hands out fresh indexes or released ones."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from identity_blocks import actions
from identity_blocks.models import FreeIdentity, IdentityAssignment, IdentityWait
from tests.factories import guest, make_agreement, make_block
from tests.support.services import unavailable

ROUNDS = 20


def _race(requests: int) -> list[object]:
    barrier = threading.Barrier(requests)

    def request(_: int) -> object:
        holder = guest()
        try:
            barrier.wait()
            return actions.assign_identity(holder).impu
        except actions.NoIdentityFree as full:
            return full
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=requests) as pool:
        return list(pool.map(request, range(requests)))


def _released(block_size: int) -> None:
    """Every identity of a fresh block handed out and released again: its indexes are all free."""
    for assignment in [actions.assign_identity(guest()) for _ in range(block_size)]:
        actions.release_identity(assignment.pk, reason="done")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("indexes", ["fresh", "released"])
def test_it_never_gives_one_impu_to_two_requests_racing_on_postgresql(indexes):
    if connection.vendor != "postgresql":
        unavailable("this race must run on PostgreSQL (make test sets DATABASE_URL)")
    agreement = make_agreement()
    for _ in range(ROUNDS):
        block = make_block(50, agreement=agreement)
        if indexes == "released":
            _released(50)
        results = _race(64)
        impus = [r for r in results if isinstance(r, str)]
        refusals = [r for r in results if isinstance(r, actions.NoIdentityFree)]
        assert len(impus) == 50
        assert len(set(impus)) == 50
        assert len(refusals) == 14
        assert sorted(r.position for r in refusals) == list(range(1, 15))
        assert IdentityAssignment.objects.live().filter(block=block).count() == 50
        assert not FreeIdentity.objects.filter(block=block).exists()
        agreement.refresh_from_db()
        assert agreement.live_assignments == 50
        actions.expire_block(block.pk)  # frees the pattern for the next round's block
        IdentityWait.objects.all().delete()
