"""An incoming call the browser answered is "answered", not "connected", until the caller's ACK
arrives; when none comes within 64·T1 (Timer H), the call ends with a reason and a BYE
(RFC 3261 §13.3.1.4). T1 is short here so that 64·T1 is 3.2 s, not 32."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from identity_blocks.events import IMS_GROUP
from identity_blocks.models import IdentityAssignment
from ims.service import ImsSide
from sip.transaction import Timers
from tests.support.ims import guest_with_a_browser, running, until
from tests.support.kamailio import DOMAIN
from tests.support.services import free_port
from tests.support.sipp import finished, sipp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
ANSWER = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
T1 = 0.05


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False
    settings.IMS_MEDIA_POLICY = "ims.media.PassThrough"  # signalling under test: the SDPs here are stand-ins


async def _states_until_ended(receive, timeout):
    """Every call state the browser is shown, up to and including the end."""
    shown: list[dict] = []
    while not shown or shown[-1]["state"] != "ended":
        event = await asyncio.wait_for(receive(), timeout)
        if event["type"] == "ims.call":
            shown.append(event)
    return shown


async def test_it_ends_a_call_whose_answer_is_never_acknowledged(kamailio, tmp_path):
    holder, assignment, receive = await guest_with_a_browser(kamailio)
    stop, task = await running(ImsSide(timers=Timers(t1=T1)))
    await until(IdentityAssignment.objects.filter(pk=assignment.pk, registration_state="registered").exists)
    user = assignment.impu.split(":")[1].split("@")[0]
    phone = await sipp("invite_without_ack", core_port=kamailio.udp, local_port=free_port(), service=user,
                       fields=[DOMAIN, "", "phone"], workdir=tmp_path)  # fmt: skip
    ringing = await asyncio.wait_for(receive(), 10)
    while ringing["type"] != "ims.call":
        ringing = await asyncio.wait_for(receive(), 10)
    assert ringing["state"] == "ringing"
    answer = {"type": "ims.call.control", "action": "answer", "call": ringing["call"], "sdp": ANSWER}
    answered_at = asyncio.get_running_loop().time()
    await get_channel_layer().group_send(IMS_GROUP, dict(answer, holder=holder.group))
    shown = await _states_until_ended(receive, timeout=64 * T1 + 5)
    waited = asyncio.get_running_loop().time() - answered_at
    assert [event["state"] for event in shown] == ["answered", "ended"]  # never "connected"
    assert shown[-1]["reason"] == "the other side never confirmed the answer"
    assert 64 * T1 - 0.5 <= waited <= 64 * T1 + 3  # Timer H, not sooner
    await finished(phone, tmp_path)  # the caller got the BYE and answered it
    stop.set()
    await task
