"""RFC 5626 flow recovery: Kamailio restarts within two seconds and forgets every binding; the
connection the IMS side registered over closes with it, and every identity registers again over a
new one at once, long before any keep-alive or refresh would have noticed. Kamailio's own location
table shows it: requests it routes to the identities reach the IMS side again."""

import asyncio
import uuid
from collections import Counter

import pytest
from asgiref.sync import sync_to_async

from identity_blocks import actions
from identity_blocks.models import IdentityAssignment, Operator, RegistrationState
from ims.registration import IdentityConfig, Registration
from ims.service import ImsSide
from sip.digest import DigestCredentials
from sip.transport import Peer, UdpTransport
from sip.ua import UserAgent
from tests.factories import guest
from tests.support.ims import kamailio_block, running, until
from tests.support.kamailio import DOMAIN, PASSWORD, restart
from tests.support.reachability import reachable, until_reachable

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
COUNT = 5


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False


def _registered():
    rows = IdentityAssignment.objects.values_list("registration_state", "registration_error")
    return set(rows) == {(RegistrationState.REGISTERED, "")}


class _Unheard:
    async def registering(self, assignment_id): ...
    async def registered(self, assignment_id, until, service_route): ...
    async def failed(self, assignment_id, reason): ...
    async def deregistered(self, assignment_id): ...


async def _control(core):
    """A phone that registers once over UDP and never again: after the restart the core has
    forgotten it, which shows the bindings really were lost."""
    agent = UserAgent(await UdpTransport().start("127.0.0.1", 0))
    credentials = DigestCredentials.from_password(f"control@{DOMAIN}", DOMAIN, PASSWORD)
    proxy = Peer("UDP", "127.0.0.1", core.udp)
    config = IdentityConfig(
        0, f"sip:control@{DOMAIN}", f"sip:{DOMAIN}", proxy, f"<urn:uuid:{uuid.uuid4()}>", credentials
    )
    registration = Registration(agent, config, _Unheard())
    await registration.register()
    registration.stop()
    return agent, config.impu


@pytest.mark.parametrize("transport", ["tcp", "ws"])
async def test_it_registers_every_identity_again_within_seconds_of_a_quick_restart(kamailio, transport):
    await sync_to_async(kamailio_block)(kamailio)
    port = kamailio.tcp if transport == "tcp" else kamailio.ws
    await sync_to_async(Operator.objects.update)(outbound_proxy=f"sip:127.0.0.1:{port};transport={transport}")
    impus = [(await sync_to_async(actions.assign_identity)(guest())).impu for _ in range(COUNT)]
    # Keep-alives an hour apart and hour-long registrations: only the closed flow can tell.
    stop, task = await running(ImsSide(keepalive=3600, reconcile=3600))
    await until(_registered, timeout=20)
    assert await reachable(kamailio, impus) == Counter({200: COUNT})
    control, control_impu = await _control(kamailio)

    await asyncio.to_thread(restart, kamailio, 2.0)
    assert await reachable(kamailio, [control_impu]) == Counter({404: 1})  # the core forgot every binding...
    took = await until_reachable(kamailio, impus, timeout=10)  # ...and has all of the IMS side's again
    await until(_registered, timeout=5)
    print(f"all {COUNT} reachable through the core {took:.1f} s after it was back")
    control.close()
    stop.set()
    await task
