"""An INVITE from a non-WebRTC phone (sipp) through Kamailio rings the callee's browser session;
the caller can give up, or the browser answers and the phone hangs up."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from identity_blocks.events import IMS_GROUP
from tests.support.kamailio import DOMAIN
from tests.support.services import free_port
from tests.support.sipp import finished, sipp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
ANSWER = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False
    # Signalling only, with made-up SDP: media unchanged (the per-call policy would refuse calls to a
    # phone that needs conversion when no gateway is configured; that is another test's).
    settings.IMS_MEDIA_POLICY = "ims.media.PassThrough"


@pytest.fixture
def jane(registered_guest):
    """(holder, the user part of her identity, her browser's next event)."""
    holder, assignment, receive = registered_guest
    return holder, assignment.impu.split(":")[1].split("@")[0], receive


async def _call_event(receive, state):
    while True:
        event = await asyncio.wait_for(receive(), 10)
        if event["type"] == "ims.call" and event["state"] == state:
            return event


async def test_it_rings_the_browser_until_the_caller_gives_up(kamailio, jane, tmp_path):
    _, user, browser = jane
    phone = await sipp("invite_cancel", core_port=kamailio.udp, local_port=free_port(), service=user,
                       fields=[DOMAIN, "", "phone"], workdir=tmp_path)  # fmt: skip
    ringing = await _call_event(browser, "ringing")
    assert (ringing["caller"], ringing["direction"]) == (f"sip:phone@{DOMAIN}", "in")
    assert "m=audio" in ringing["sdp"]
    assert "PCMU/8000" in ringing["sdp"]  # the offer reaches the browser unchanged
    ended = await _call_event(browser, "ended")
    assert ended["reason"] == "cancelled by the caller"
    await finished(phone, tmp_path)


async def test_it_connects_when_the_browser_answers(kamailio, jane, tmp_path):
    holder, user, browser = jane
    phone = await sipp("invite_answer_bye", core_port=kamailio.udp, local_port=free_port(), service=user,
                       fields=[DOMAIN, "", "phone"], workdir=tmp_path)  # fmt: skip
    ringing = await _call_event(browser, "ringing")
    control = {"type": "ims.call.control", "call": ringing["call"], "holder": holder.group}
    stranger = dict(control, action="answer", sdp=ANSWER, holder="holder.guest.someone-else")
    await get_channel_layer().group_send(IMS_GROUP, stranger)  # not hers to answer: ignored
    await get_channel_layer().group_send(IMS_GROUP, dict(control, action="answer", sdp=ANSWER))
    await _call_event(browser, "connected")
    ended = await _call_event(browser, "ended")
    assert ended["reason"] == "the other side hung up"
    await finished(phone, tmp_path)
