"""An identity the IMS knows is de-registered first, then released (suspension, expiry, release)."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from identity_blocks import actions
from identity_blocks.events import IMS_GROUP
from identity_blocks.models import IdentityAssignment, RegistrationState
from tests.factories import guest, make_block

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ims_side():
    """A channel in the IMS side's group, as a run_ims process would hold."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(IMS_GROUP, channel)

    def receive():
        return async_to_sync(layer.receive)(channel)

    return receive


def _registered():
    assignment = actions.assign_identity(guest())
    actions.mark_registering(assignment.pk)
    actions.mark_registered(assignment.pk, until=timezone.now() + timedelta(hours=1))
    return assignment


def test_it_asks_the_ims_side_to_deregister_a_suspended_blocks_identities(ims_side):
    block = make_block(5)
    registered = _registered()
    assert ims_side() == {"type": "ims.register", "assignment": registered.pk}
    unregistered = actions.assign_identity(guest())
    ims_side()
    actions.suspend_block(block.pk)
    assert ims_side() == {"type": "ims.deregister", "assignment": registered.pk}
    registered.refresh_from_db()
    unregistered.refresh_from_db()
    assert registered.registration_state == RegistrationState.DEREGISTERING
    assert registered.released_at is None  # still live until the IMS side confirms
    assert unregistered.released_at is not None
    actions.mark_deregistered(registered.pk)
    released = IdentityAssignment.objects.get(pk=registered.pk)
    assert released.released_at is not None
    assert released.release_reason == "block suspended"


def test_it_ignores_a_late_register_answer_for_an_identity_on_its_way_out():
    make_block(5)
    assignment = _registered()
    actions.release_identity(assignment.pk, reason="admin")
    actions.mark_registered(assignment.pk, until=timezone.now() + timedelta(hours=1))
    assignment.refresh_from_db()
    assert assignment.registration_state == RegistrationState.DEREGISTERING


def test_it_releases_anyway_when_the_ims_side_never_confirms(settings):
    settings.IDENTITY_DEREGISTER_TIMEOUT_SECONDS = 1
    make_block(5)
    assignment = _registered()
    actions.release_identity(assignment.pk, reason="admin")
    IdentityAssignment.objects.filter(pk=assignment.pk).update(
        release_requested_at=timezone.now() - timedelta(seconds=5)
    )
    assert actions.finish_stuck_deregistrations() == 1
    assignment.refresh_from_db()
    assert assignment.released_at is not None
    assert assignment.registration_error == "de-registration not confirmed in time"


def test_it_records_a_failed_registration_with_its_reason():
    make_block(5)
    assignment = actions.assign_identity(guest())
    actions.mark_registration_failed(assignment.pk, reason="403 Forbidden from registrar")
    assignment.refresh_from_db()
    assert assignment.registration_state == RegistrationState.FAILED
    assert assignment.registration_error == "403 Forbidden from registrar"
