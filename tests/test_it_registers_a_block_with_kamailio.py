"""1,000 identities of a block registered, routable and refreshed through real Kamailio (UDP, TCP, WS)."""

import asyncio
import uuid
from collections import Counter

import pytest

from ims.registration import IdentityConfig, Registration
from sip.digest import DigestCredentials
from sip.transport import Peer, StreamTransport, Transport, UdpTransport, WebSocketTransport
from sip.ua import UserAgent
from tests.support.kamailio import DOMAIN, PASSWORD

COUNT = 1000
EXPIRES = 20  # refreshed at half time: 10 s


class Recorder:
    def __init__(self):
        self.events: Counter[str] = Counter()
        self.failures: list[str] = []

    async def registering(self, assignment_id):
        self.events["registering"] += 1

    async def registered(self, assignment_id, until, service_route):
        self.events["registered"] += 1

    async def failed(self, assignment_id, reason):
        self.failures.append(reason)

    async def deregistered(self, assignment_id):
        self.events["deregistered"] += 1


def _identities(transport, port, count=COUNT):
    for n in range(1, count + 1):
        impu = f"sip:help-{n:04d}@{DOMAIN}"
        yield IdentityConfig(
            assignment_id=n,
            impu=impu,
            registrar=f"sip:{DOMAIN}",
            proxy=Peer(transport, "127.0.0.1", port),
            instance_id=f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, impu)}>",
            credentials=DigestCredentials.from_password(f"help-{n:04d}@{DOMAIN}", DOMAIN, PASSWORD),
            expires=EXPIRES,
        )


async def _agent(transport_name):
    delivered: Counter[str] = Counter()

    async def handler(request, transaction):
        delivered[request.uri.split(";")[0]] += 1
        transaction.respond(agent.response(request, 200, "OK"))

    transport: Transport
    if transport_name == "UDP":
        transport = await UdpTransport().start("127.0.0.1", 0)
    elif transport_name == "TCP":
        transport = StreamTransport()
    else:
        transport = WebSocketTransport()
    agent = UserAgent(transport, handler)
    return agent, delivered


async def _message_everyone(port, count):
    sender = UserAgent(await UdpTransport().start("127.0.0.1", 0), None)
    statuses: Counter[int] = Counter()

    async def one(n):
        to = f"sip:help-{n:04d}@{DOMAIN}"
        request = sender.new_request("MESSAGE", to, from_uri=f"sip:sipp@{DOMAIN}", to_uri=to)
        request.add("Content-Type", "text/plain")
        request.body = b"ping"
        statuses[(await sender.request(request, Peer("UDP", "127.0.0.1", port))).status] += 1

    await asyncio.gather(*(one(n) for n in range(1, count + 1)))
    sender.close()
    return statuses


@pytest.mark.parametrize("transport", ["UDP", "TCP", "WS"])
async def test_it_registers_and_refreshes_a_block_of_a_thousand(kamailio, transport):
    port = {"UDP": kamailio.udp, "TCP": kamailio.tcp, "WS": kamailio.ws}[transport]
    agent, delivered = await _agent(transport)
    recorder = Recorder()
    registrations = [Registration(agent, config, recorder) for config in _identities(transport, port)]
    await asyncio.gather(*(r.register() for r in registrations))
    assert recorder.failures == []
    assert recorder.events["registered"] == COUNT

    # Kamailio knows every binding: a MESSAGE to each identity reaches this agent.
    assert await _message_everyone(kamailio.udp, COUNT) == Counter({200: COUNT})
    assert len(delivered) == COUNT

    # Every identity refreshes on its own at half the granted time.
    await asyncio.sleep(EXPIRES / 2 + 3)
    assert recorder.events["registered"] >= 2 * COUNT
    assert recorder.failures == []
    await asyncio.gather(*(r.deregister() for r in registrations[:10]))
    assert recorder.events["deregistered"] == 10
    assert (await _message_everyone(kamailio.udp, 10)) == Counter({404: 10})
    for registration in registrations:
        registration.stop()
    agent.close()
