"""Asking for a holder's live identity reads that holder's rows, not every live assignment.

It asks for the holder's latest assignment, found through the index on (holder, released_at
DESC) whatever the table's statistics: asked as "live and the holder's", statistics taken while
few assignments were live (a desk's quiet hour, or a block's first minutes) made PostgreSQL walk
every live assignment through an index of live rows for each guest who arrived. A test on
PostgreSQL, as the portal runs in production.
"""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from identity_blocks import actions
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from tests.factories import guest, make_block, make_user

pytestmark = pytest.mark.django_db

HISTORY = 3_000
OTHERS = 120


def _assignment_rows_read() -> int:
    """Rows of the assignments table read so far in this transaction, by scans and index fetches."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
            "WHERE relname = %s",
            [IdentityAssignment._meta.db_table],
        )
        return int(cursor.fetchone()[0])


def _earlier_visits(visits: list[IdentityAssignment]) -> None:
    """Identities of earlier visits, all released, and statistics taken then: none live."""
    released = timezone.now()
    for visit in visits:
        visit.released_at, visit.sticky = released, visit.user_id is not None
    IdentityAssignment.objects.bulk_create(visits)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {IdentityAssignment._meta.db_table}")


def test_it_finds_a_returning_guest_s_identity_reading_only_that_guest_s_rows():
    assert connection.vendor == "postgresql"
    block = make_block(10_000)
    _earlier_visits(
        [IdentityAssignment(block=block, index=n, impu=block.impu(n), guest_key=f"e-{n}") for n in range(HISTORY)]
    )
    for _ in range(OTHERS):
        actions.assign_identity(guest())
    jane = guest()
    hers = actions.assign_identity(jane)
    for _ in range(6):  # past psycopg's prepare threshold: the server's plan from here on
        actions.assign_identity(jane)

    before = _assignment_rows_read()
    again = actions.assign_identity(jane)

    assert again.pk == hers.pk
    assert _assignment_rows_read() - before <= 2


def test_it_finds_a_returning_member_s_identity_without_reading_their_history():
    block = make_block(10_000)
    members = User.objects.bulk_create(User(username=f"member-{n}") for n in range(40))
    mary = make_user("mary")
    _earlier_visits(
        [
            IdentityAssignment(block=block, index=n, impu=block.impu(n), user=user)
            for user in [*members, *[mary] * 20]
            for n in range(5)
        ]
    )  # a hundred earlier visits of hers, each released when she left, and others' before
    hers = actions.assign_identity(Holder.member(mary))
    for _ in range(6):
        actions.assign_identity(Holder.member(mary))

    before = _assignment_rows_read()
    again = actions.assign_identity(Holder.member(mary))

    assert again.pk == hers.pk
    assert _assignment_rows_read() - before <= 2


def test_it_gives_a_guest_whose_identity_was_released_a_new_one():
    make_block(1_000)
    jane = guest()
    first = actions.assign_identity(jane)
    actions.release_identity(first.pk, reason="left")

    second = actions.assign_identity(jane)

    assert second.pk != first.pk
    assert second.released_at is None
    assert IdentityAssignment.objects.live().get(guest_key=jane.guest_key) == second
