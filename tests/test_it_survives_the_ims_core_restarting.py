"""Kamailio stops and starts again, forgetting every binding; the IMS side notices and registers
every identity again, over UDP and TCP."""

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

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
COUNT = 100


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False


def _all_registered():
    return set(IdentityAssignment.objects.values_list("registration_state", flat=True)) == {
        RegistrationState.REGISTERED
    }


async def _reachable(core, impus):
    """OPTIONS to each identity through the core: 200 from the IMS side, 404 if the core lost it."""
    agent = UserAgent(await UdpTransport().start("127.0.0.1", 0))
    statuses: Counter[int] = Counter()

    async def probe(impu):
        request = agent.new_request("OPTIONS", impu, from_uri=f"sip:probe@{DOMAIN}", to_uri=impu)
        statuses[(await agent.request(request, Peer("UDP", "127.0.0.1", core.udp))).status] += 1

    await asyncio.gather(*(probe(impu) for impu in impus))
    agent.close()
    return statuses


class _Unheard:
    async def registering(self, assignment_id): ...
    async def registered(self, assignment_id, until, service_route): ...
    async def failed(self, assignment_id, reason): ...
    async def deregistered(self, assignment_id): ...


async def _control(core):
    """A phone registered once and never again: after the restart only the IMS side's own
    identities come back, so this one shows that the core really forgot its bindings."""
    agent = UserAgent(await UdpTransport().start("127.0.0.1", 0))
    credentials = DigestCredentials.from_password(f"control@{DOMAIN}", DOMAIN, PASSWORD)
    config = IdentityConfig(
        0, f"sip:control@{DOMAIN}", f"sip:{DOMAIN}", Peer("UDP", "127.0.0.1", core.udp), f"<urn:uuid:{uuid.uuid4()}>",
        credentials,
    )  # fmt: skip
    registration = Registration(agent, config, _Unheard())
    await registration.register()
    registration.stop()
    return agent, config.impu


async def _all_reachable(core, impus, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while (statuses := await _reachable(core, impus)) != Counter({200: len(impus)}):
        assert asyncio.get_running_loop().time() < deadline, statuses
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_it_registers_every_identity_again_after_the_core_restarts(kamailio, transport):
    await sync_to_async(kamailio_block)(kamailio)
    proxy = f"sip:127.0.0.1:{kamailio.udp};transport={transport}"  # Kamailio listens TCP on its UDP port too
    await sync_to_async(Operator.objects.update)(outbound_proxy=proxy)
    impus = [(await sync_to_async(actions.assign_identity)(guest())).impu for _ in range(COUNT)]
    stop, task = await running(ImsSide(keepalive=0.5))
    await until(_all_registered, timeout=20)
    assert await _reachable(kamailio, impus) == Counter({200: COUNT})
    control, control_impu = await _control(kamailio)
    assert 404 not in await _reachable(kamailio, [control_impu])  # answered (501: it serves nothing)

    await asyncio.to_thread(restart, kamailio, 2.0)
    assert await _reachable(kamailio, [control_impu]) == Counter({404: 1})  # the core forgot the bindings...
    await _all_reachable(kamailio, impus)  # ...and has the IMS side's all again
    control.close()
    stop.set()
    await task
