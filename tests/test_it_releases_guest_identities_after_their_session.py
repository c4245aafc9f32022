import pytest

from identity_blocks import actions
from identity_blocks.models import IdentityAssignment
from tests.factories import guest, make_block

pytestmark = pytest.mark.django_db


def test_it_releases_a_guest_identity_once_the_grace_period_is_over(settings):
    settings.IDENTITY_GUEST_GRACE_SECONDS = 0
    make_block(5)
    jane = guest()
    assignment = actions.assign_identity(jane)
    assert not assignment.sticky
    actions.holder_left(jane)
    assert actions.release_due_identities() == 1
    assignment.refresh_from_db()
    assert assignment.released_at is not None
    assert assignment.release_reason == "guest session ended"


def test_it_keeps_the_identity_of_a_guest_who_comes_back_in_time(settings):
    settings.IDENTITY_GUEST_GRACE_SECONDS = 0
    make_block(5)
    jane = guest()
    first = actions.assign_identity(jane)
    actions.holder_left(jane)
    assert actions.assign_identity(jane).pk == first.pk  # she reconnected before the sweep
    assert actions.release_due_identities() == 0
    assert IdentityAssignment.objects.live().filter(pk=first.pk).exists()


def test_it_waits_the_configured_time(settings):
    settings.IDENTITY_GUEST_GRACE_SECONDS = 300
    make_block(5)
    jane = guest()
    actions.assign_identity(jane)
    actions.holder_left(jane)
    assert actions.release_due_identities() == 0
