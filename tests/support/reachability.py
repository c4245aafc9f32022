"""Asking the core itself whether it can reach identities: an OPTIONS to each, sent through Kamailio
from a peer of its own, is routed by Kamailio's location table to the IMS side, which answers 200;
Kamailio answers 404 for an identity it has no binding for."""

import asyncio
from collections import Counter

from sip.transport import Peer, UdpTransport
from sip.ua import SERVER, UserAgent
from tests.support.kamailio import DOMAIN


async def reachable(core, impus):
    """The statuses of the answers; a 200 counts only if the IMS side itself gave it."""
    agent = UserAgent(await UdpTransport().start("127.0.0.1", 0))
    statuses: Counter[int] = Counter()

    async def probe(impu):
        request = agent.new_request("OPTIONS", impu, from_uri=f"sip:probe@{DOMAIN}", to_uri=impu)
        response = await agent.request(request, Peer("UDP", "127.0.0.1", core.udp))
        statuses[response.status if response.status != 200 or response.get("Server") == SERVER else -200] += 1

    try:
        await asyncio.gather(*(probe(impu) for impu in impus))
    finally:
        agent.close()
    return statuses


async def until_reachable(core, impus, timeout):
    """Waits until the core reaches every identity; returns how long that took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while (statuses := await reachable(core, impus)) != Counter({200: len(impus)}):
        assert loop.time() - started < timeout, f"after {timeout} s the core answers {statuses}"
        await asyncio.sleep(0.2)
    return loop.time() - started
