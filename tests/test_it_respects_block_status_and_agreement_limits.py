from datetime import timedelta

import pytest
from django.utils import timezone

from identity_blocks import actions
from identity_blocks.models import BlockStatus, IdentityAssignment
from tests.factories import guest, make_agreement, make_block

pytestmark = pytest.mark.django_db


def test_it_assigns_nothing_from_a_suspended_block():
    block = make_block(5)
    actions.suspend_block(block.pk)
    with pytest.raises(actions.NoIdentityFree):
        actions.assign_identity(guest())


def test_it_assigns_nothing_from_an_expired_block_and_resumes_a_suspended_one():
    block = make_block(5)
    actions.suspend_block(block.pk)
    actions.resume_block(block.pk)
    assert actions.assign_identity(guest()).block_id == block.pk
    actions.expire_block(block.pk)
    block.refresh_from_db()
    assert block.status == BlockStatus.EXPIRED
    assert not IdentityAssignment.objects.live().exists()
    with pytest.raises(actions.NoIdentityFree):
        actions.assign_identity(guest())


def test_it_assigns_nothing_beyond_the_agreements_registrations():
    agreement = make_agreement(max_registrations=2)
    make_block(10, agreement=agreement)
    actions.assign_identity(guest())
    actions.assign_identity(guest())
    with pytest.raises(actions.NoIdentityFree):
        actions.assign_identity(guest())
    agreement.refresh_from_db()
    assert agreement.live_assignments == 2


def test_it_assigns_nothing_outside_the_agreements_period():
    make_block(5, agreement=make_agreement(valid_from=timezone.now() + timedelta(days=1)))
    with pytest.raises(actions.NoIdentityFree):
        actions.assign_identity(guest())


def test_it_expires_blocks_at_their_end_date():
    block = make_block(5)
    assignment = actions.assign_identity(guest())
    block.ends_at = timezone.now() - timedelta(seconds=1)
    block.save()
    assert actions.expire_ended_blocks() == 1
    assignment.refresh_from_db()
    assert assignment.released_at is not None
