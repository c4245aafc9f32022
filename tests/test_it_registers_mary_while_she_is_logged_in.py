"""Mary's identity follows her (H.4): logging in assigns it and registers it at the core; logging
out de-registers it and keeps it hers; logging in again brings the same identity back. Closing her
last window de-registers it after a grace period; opening one registers it again. Kamailio's own
routing proves each step, not only the portal's rows."""

from collections import Counter

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from identity_blocks import actions
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from ims.service import ImsSide
from tests.factories import make_user
from tests.support.ims import kamailio_block, running, until
from tests.support.reachability import reachable

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


def _marys():
    return IdentityAssignment.objects.live().get(user__username="mary")


def _state_is(state, resting):
    return lambda: (
        IdentityAssignment.objects.live()
        .filter(user__username="mary", registration_state=state, resting=resting)
        .exists()
    )


def _log_in(client):
    response = client.post("/accounts/login/", {"username": "mary", "password": "mary-password"})
    assert response.status_code == 302


@pytest.fixture
async def mary_at_kamailio(kamailio, settings):
    settings.IMS_STANDIN = False
    await sync_to_async(kamailio_block)(kamailio)
    await sync_to_async(make_user)("mary")
    stop, task = await running(ImsSide())
    yield Client()
    stop.set()
    await task


async def test_it_registers_her_identity_from_log_in_to_log_out(kamailio, mary_at_kamailio):
    client = mary_at_kamailio
    await sync_to_async(_log_in)(client)
    await until(_state_is("registered", resting=False))
    impu = (await sync_to_async(_marys)()).impu
    assert await reachable(kamailio, [impu]) == Counter({200: 1})

    await sync_to_async(client.post)("/accounts/logout/")
    await until(_state_is("unregistered", resting=True))
    assert await reachable(kamailio, [impu]) == Counter({404: 1})
    assert (await sync_to_async(_marys)()).impu == impu  # still hers

    await sync_to_async(_log_in)(client)
    await until(_state_is("registered", resting=False))
    assert (await sync_to_async(_marys)()).impu == impu
    assert await reachable(kamailio, [impu]) == Counter({200: 1})


async def test_it_rests_her_identity_when_her_last_window_has_been_closed_a_while(kamailio, mary_at_kamailio, settings):
    settings.IDENTITY_MEMBER_GRACE_SECONDS = 0
    await sync_to_async(_log_in)(mary_at_kamailio)
    await until(_state_is("registered", resting=False))
    mary = Holder(user_id=(await sync_to_async(_marys)()).user_id)
    await sync_to_async(actions.session_opened)(mary, "test.window")
    assert await sync_to_async(actions.rest_due_identities)() == 0  # a window is open

    await sync_to_async(actions.session_closed)(mary, "test.window")
    assert await sync_to_async(actions.rest_due_identities)() == 1
    await until(_state_is("unregistered", resting=True))
    impu = (await sync_to_async(_marys)()).impu
    assert await reachable(kamailio, [impu]) == Counter({404: 1})

    await sync_to_async(actions.session_opened)(mary, "test.window.again")
    await until(_state_is("registered", resting=False))
    assert await reachable(kamailio, [impu]) == Counter({200: 1})
