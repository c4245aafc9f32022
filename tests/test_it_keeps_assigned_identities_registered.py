"""The IMS side registers every live assignment of its shard with Kamailio and writes the state back;
new assignments register and releases de-register as they happen."""

import pytest
from asgiref.sync import sync_to_async

from identity_blocks import actions
from identity_blocks.models import IdentityAssignment, RegistrationState
from ims.service import ImsSide
from tests.factories import guest
from tests.support.ims import kamailio_block
from tests.support.ims import running as _running
from tests.support.ims import states as _states
from tests.support.ims import until as _until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False  # Kamailio is the core here, reached through the operator's proxy


async def test_it_registers_assigned_identities_and_follows_assignments_and_releases(kamailio):
    await sync_to_async(kamailio_block)(kamailio)
    first = [await sync_to_async(actions.assign_identity)(guest()) for _ in range(5)]
    stop, task = await _running(ImsSide())
    registered = RegistrationState.REGISTERED
    await _until(lambda: set(_states().values()) == {registered})

    later = await sync_to_async(actions.assign_identity)(guest())
    await _until(lambda: _states()[later.impu] == registered)

    await sync_to_async(actions.release_identity)(first[0].pk, reason="done")
    await _until(lambda: IdentityAssignment.objects.filter(pk=first[0].pk, released_at__isnull=False).exists())
    stop.set()
    await task


async def test_it_registers_a_burst_of_identities_through_one_socket(kamailio):
    await sync_to_async(kamailio_block)(kamailio)
    for _ in range(20):
        await sync_to_async(actions.assign_identity)(guest())
    side = ImsSide()
    stop, task = await _running(side)  # all twenty ask for the UDP agent while it opens
    await _until(lambda: set(_states().values()) == {RegistrationState.REGISTERED})
    assert len(side.agents) == 1
    assert len({id(registration.ua) for registration in side.registrations.values()}) == 1
    stop.set()
    await task


async def test_it_splits_identities_between_shards(kamailio):
    await sync_to_async(kamailio_block)(kamailio)
    assigned = [await sync_to_async(actions.assign_identity)(guest()) for _ in range(6)]
    sides = [ImsSide(shard_index=i, shard_count=2) for i in range(2)]
    running = [await _running(side) for side in sides]
    await _until(lambda: set(_states().values()) == {RegistrationState.REGISTERED})
    for index, side in enumerate(sides):
        assert set(side.registrations) == {a.pk for a in assigned if a.pk % 2 == index}
    for stop, task in running:
        stop.set()
        await task


async def test_it_shows_why_a_registration_failed(kamailio):
    await sync_to_async(kamailio_block)(kamailio, password="wrong-password")
    assignment = await sync_to_async(actions.assign_identity)(guest())
    stop, task = await _running(ImsSide())
    await _until(lambda: _states()[assignment.impu] == RegistrationState.FAILED)
    error = await sync_to_async(lambda: IdentityAssignment.objects.get(pk=assignment.pk).registration_error)()
    assert error == "401 Unauthorized from the registrar"
    stop.set()
    await task
