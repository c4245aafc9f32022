"""A claim names its identity as the block's definition does, and counts it exactly once, whichever
way it ends."""

import pytest

from identity_blocks import actions
from identity_blocks.models import BlockKind, FreeIdentity, IdentityBlock, ServiceAgreement
from tests.factories import guest, make_agreement, make_block

pytestmark = pytest.mark.django_db


def _assigned_at(block: IdentityBlock, index: int) -> str:
    IdentityBlock.objects.filter(pk=block.pk).update(next_index=index)
    return actions.assign_identity(guest(), blocks=[block]).impu


@pytest.mark.parametrize(
    ("fields", "indexes"),
    [
        ({"pattern": "sip:help-{n:07d}@help.ims.example.net", "first": 0, "last": 9_999_999}, [0, 41, 9_999_999]),
        ({"pattern": "sip:desk{n}@help.ims.example.net", "first": 1, "last": 10**9}, [0, 8, 9, 999, 10**9 - 1]),
        ({"kind": BlockKind.TEL_RANGE, "pattern": "", "first": 4930901000, "last": 4930909999}, [0, 8_999]),
        ({"kind": BlockKind.SUBDOMAIN, "pattern": "", "domain": "web.ims.example.net", "last": 500}, [0, 9, 499]),
        (
            {"kind": BlockKind.LIST, "pattern": "", "identities": "sip:a@ims.example.net\nsip:b@ims.example.net"},
            [0, 1],
        ),
    ],
)
def test_it_names_each_identity_as_the_block_defines_it(fields, indexes):
    block = make_block(1, **fields)
    for index in indexes:
        assert _assigned_at(block, index) == block.impu(index)


def test_it_gives_a_fresh_index_back_when_the_agreement_is_full():
    agreement = make_agreement(max_registrations=2)
    block = make_block(10, agreement=agreement)
    actions.assign_identity(guest())
    actions.assign_identity(guest())
    jane = guest()
    with pytest.raises(actions.NoIdentityFree):
        actions.assign_identity(jane)
    ServiceAgreement.objects.filter(pk=agreement.pk).update(max_registrations=3)
    assert actions.assign_identity(jane).index == 2  # no hole left in the block
    agreement.refresh_from_db()
    block.refresh_from_db()
    assert (agreement.live_assignments, block.next_index, FreeIdentity.objects.count()) == (3, 3, 0)


def test_it_keeps_a_released_index_free_while_the_agreement_is_full():
    agreement = make_agreement(max_registrations=1)
    block = make_block(10, agreement=agreement)
    actions.release_identity(actions.assign_identity(guest()).pk, reason="done")
    ServiceAgreement.objects.filter(pk=agreement.pk).update(live_assignments=1)  # another block's
    with pytest.raises(actions.NoIdentityFree):
        actions.assign_identity(guest())
    assert list(FreeIdentity.objects.filter(block=block).values_list("index", flat=True)) == [0]
    agreement.refresh_from_db()
    assert agreement.live_assignments == 1


def test_it_keeps_released_indexes_of_a_suspended_block_for_when_it_resumes():
    block = make_block(10)
    for assignment in [actions.assign_identity(guest()) for _ in range(3)]:
        actions.release_identity(assignment.pk, reason="done")
    actions.suspend_block(block.pk)
    jane = guest()
    with pytest.raises(actions.NoIdentityFree):
        actions.assign_identity(jane)
    assert FreeIdentity.objects.filter(block=block).count() == 3
    actions.resume_block(block.pk)
    assert actions.assign_identity(jane).index == 0  # the oldest released first
    block.refresh_from_db()
    assert block.next_index == 3
