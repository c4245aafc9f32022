"""A request from the core is for the identity its Request-URI names (RFC 3261 §8.2.2.1), not To:
sipp's built-in caller puts the proxy's address in To, and its call still rings the holder's
browser; a MESSAGE addressed the same way is delivered. Kamailio rewrites the Request-URI to our
Contact, whose user part maps back to the identity that registered it."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from identity_blocks.events import IMS_GROUP
from tests.support.kamailio import DOMAIN
from tests.support.services import free_port
from tests.support.sipp import finished, sipp
from tests.support.sipp_builtin import builtin, received

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False
    settings.IMS_MEDIA_POLICY = "ims.media.PassThrough"  # signalling under test: the SDPs here are stand-ins


async def _next(receive, kind, state=None):
    while True:
        event = await asyncio.wait_for(receive(), 10)
        if event["type"] == kind and (state is None or event.get("state") == state):
            return event


async def test_it_rings_the_browser_for_sipps_builtin_caller(kamailio, registered_guest, tmp_path):
    holder, assignment, browser = registered_guest
    user = assignment.impu.split(":")[1].split("@")[0]
    port = free_port()
    caller = await builtin("uac", core_port=kamailio.udp, local_port=port, workdir=tmp_path, service=user)
    ringing = await _next(browser, "ims.call", "ringing")
    assert (ringing["direction"], ringing["callee"]) == ("in", assignment.impu)  # the identity, not To
    assert "PCMU/8000" in ringing["sdp"]
    decline = {"type": "ims.call.control", "action": "decline", "call": ringing["call"], "holder": holder.group}
    await get_channel_layer().group_send(IMS_GROUP, decline)
    assert (await _next(browser, "ims.call", "ended"))["reason"] == "declined"
    await asyncio.wait_for(caller.wait(), 30)
    assert caller.returncode == 1  # sipp counts a declined call as failed, the only one it made
    declined = received(tmp_path / f"uac-{port}.msg", "SIP/2.0 603")
    assert declined, "the caller heard the holder decline"
    assert f"To: {user} <sip:{user}@127.0.0.1:{kamailio.udp}>;tag=" in declined[0]  # To named the proxy


async def test_it_delivers_a_message_whose_to_names_the_proxy(kamailio, registered_guest, tmp_path):
    _, assignment, browser = registered_guest
    user = assignment.impu.split(":")[1].split("@")[0]
    fields = [DOMAIN, "Is line 5a pensions?", "phone"]
    phone = await sipp("send_message_to_the_proxy", core_port=kamailio.udp, local_port=free_port(), service=user,
                       fields=fields, workdir=tmp_path)  # fmt: skip
    await finished(phone, tmp_path)  # answered 200: stored for the identity
    shown = (await _next(browser, "ims.message"))["message"]
    assert (shown["body"], shown["remote"]) == ("Is line 5a pensions?", f"sip:phone@{DOMAIN}")
