"""The database is the truth. A `manage.py run_ims` process that hears no event at all (its
in-memory channel layer is its own) still registers the assignment made while it was down when it
starts, one made while it runs within a sweep, and de-registers one released behind its back. What
Kamailio routes shows it, not only the portal's rows."""

from collections import Counter

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from identity_blocks import actions
from identity_blocks.models import IdentityAssignment, RegistrationState
from tests.factories import guest
from tests.support.ims import kamailio_block, until
from tests.support.processes import manage, portal_env, running
from tests.support.reachability import reachable, until_reachable

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
SWEEP_SECONDS = 2


def _database_url():
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _state(pk):
    return IdentityAssignment.objects.values_list("registration_state", flat=True).get(pk=pk)


def _granted(pk):
    assignment = IdentityAssignment.objects.get(pk=pk)
    assert assignment.registered_until is not None
    return (assignment.registered_until - assignment.registration_changed_at).total_seconds()


def _released(pk):
    return IdentityAssignment.objects.get(pk=pk).released_at is not None


async def test_it_registers_what_is_assigned_and_drops_what_is_released_without_any_event(kamailio, tmp_path):
    assert connection.vendor == "postgresql", "the IMS side process shares the test's database"
    await sync_to_async(kamailio_block)(kamailio)
    before = await sync_to_async(actions.assign_identity)(guest())  # while no IMS side runs
    env = portal_env(
        DATABASE_URL=_database_url(), IMS_STANDIN="false", IMS_RECONCILE_SECONDS=str(SWEEP_SECONDS),
        IMS_REGISTER_EXPIRES="120",
    )  # fmt: skip
    with running(manage("run_ims"), env, tmp_path / "run_ims.log"):
        await until(lambda: _state(before.pk) == RegistrationState.REGISTERED, timeout=20)
        await until_reachable(kamailio, [before.impu], timeout=5)

        during = await sync_to_async(actions.assign_identity)(guest())  # its event reaches no one
        took = await until_reachable(kamailio, [during.impu], timeout=SWEEP_SECONDS + 5)
        assert await sync_to_async(_state)(during.pk) == RegistrationState.REGISTERED
        print(f"registered by a sweep {took:.1f} s after it was assigned")

        # IMS_REGISTER_EXPIRES reaches the registrar: Kamailio granted what was asked, not its default.
        assert 115 <= await sync_to_async(_granted)(during.pk) <= 120

        released = await sync_to_async(actions.release_identity)(before.pk, reason="released behind its back")
        assert released.registration_state == RegistrationState.DEREGISTERING  # waits for the IMS side
        await until(lambda: _released(before.pk), timeout=SWEEP_SECONDS + 5)  # confirmed by the sweep
        assert await reachable(kamailio, [before.impu]) == Counter({404: 1})  # the core dropped the binding
        assert await reachable(kamailio, [during.impu]) == Counter({200: 1})
