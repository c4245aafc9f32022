"""Many cores challenge every request, not only REGISTER. Through a Kamailio that answers each
INVITE, re-INVITE, BYE and MESSAGE of our identities with 407 (-A CHALLENGE_ALL), a call to a
phone connects, is put on hold and hung up, and a MESSAGE is delivered: each request is sent
again with Proxy-Authorization (RFC 3261 §22.3), same Call-ID and From tag, the next CSeq."""

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async

from ims import actions as ims_actions
from ims.models import MessageStatus, PagerMessage
from tests.support.ims import call_control, call_state, until
from tests.support.kamailio import DOMAIN, PASSWORD, Kamailio
from tests.support.services import free_port
from tests.support.sipp import finished, sipp
from tests.support.sipp_builtin import received, until_received

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
HOLD = OFFER.replace("o=- 1 1", "o=- 1 2") + "a=sendonly\r\n"


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False
    settings.IMS_MEDIA_POLICY = "ims.media.PassThrough"  # signalling under test: the SDPs here are stand-ins


@pytest.fixture
def kamailio(tmp_path):
    """The core of this file's tests (and so of registered_guest): one that challenges everything."""
    core = Kamailio(tmp_path, defines=("CHALLENGE_ALL",)).start()
    yield core
    core.stop()


async def _registered_phone(kamailio, tmp_path, user):
    port = free_port()
    register = await sipp("register", core_port=kamailio.udp, local_port=port, service="x",
                          fields=[DOMAIN, user], auth=(f"{user}@{DOMAIN}", PASSWORD), workdir=tmp_path)  # fmt: skip
    await finished(register, tmp_path)
    return port


def _core_said(kamailio, what):
    """(method, CSeq number, Call-ID, From tag) of each request Kamailio challenged or let through."""
    log = (kamailio.workdir / "kamailio.log").read_text(errors="replace")
    found = re.findall(rf"(?:{what}) (\w+) CSeq (\d+) Call-ID (\S+) From-tag (\S+)", log)
    return [(method, int(number), call_id, tag) for method, number, call_id, tag in found]


async def test_it_calls_holds_and_hangs_up_through_a_core_that_challenges_each_request(
    kamailio, registered_guest, tmp_path
):
    holder, assignment, receive = registered_guest
    port = await _registered_phone(kamailio, tmp_path, "callee")
    phone = await sipp("answer_reinvite_without_record_route", core_port=kamailio.udp, local_port=port,
                       service="x", fields=[], workdir=tmp_path)  # fmt: skip
    await asyncio.sleep(0.3)
    await call_control(holder, "start", call="a1", assignment=assignment.pk, to=f"sip:callee@{DOMAIN}", sdp=OFFER)
    await call_state(receive, "connected")
    trace = tmp_path / f"answer_reinvite_without_record_route-{port}.msg"
    await until_received(trace, "ACK ")  # before the re-INVITE, which a proxy's workers might reorder
    await call_control(holder, "update", call="a1", sdp=HOLD)
    await call_state(receive, "updated")
    await call_control(holder, "hangup", call="a1")
    await call_state(receive, "ended")
    await finished(phone, tmp_path)  # the phone got the INVITE, the re-INVITE and the BYE, so each was let through
    challenged = _core_said(kamailio, "challenged")
    assert [(method, number) for method, number, *_ in challenged] == [("INVITE", 1), ("INVITE", 3), ("BYE", 5)]
    authenticated = _core_said(kamailio, "authenticated")
    assert [(method, number) for method, number, *_ in authenticated] == [("INVITE", 2), ("INVITE", 4), ("BYE", 6)]
    assert len({(call_id, tag) for *_, call_id, tag in challenged + authenticated}) == 1  # one dialog throughout
    invites = received(trace, "INVITE ")
    assert "CSeq: 2 INVITE" in invites[0]
    assert "CSeq: 4 INVITE" in invites[1]
    assert "Proxy-Authorization" not in invites[0]  # Kamailio took the credentials it checked


async def test_it_delivers_a_message_through_a_core_that_challenges_it(kamailio, registered_guest, tmp_path):
    jane, _, _ = registered_guest
    port = await _registered_phone(kamailio, tmp_path, "sipp")
    phone = await sipp("receive_message", core_port=kamailio.udp, local_port=port, service="sipp",
                       fields=[DOMAIN, "line 5a"], workdir=tmp_path)  # fmt: skip
    await asyncio.sleep(0.3)
    sent = await sync_to_async(ims_actions.send_message)(jane, f"sip:sipp@{DOMAIN}", "Tax question about line 5a")
    await finished(phone, tmp_path)
    await until(lambda: PagerMessage.objects.get(pk=sent.pk).status == MessageStatus.SENT)
    said = [(method, number) for method, number, *_ in _core_said(kamailio, "challenged|authenticated")]
    assert said == [("MESSAGE", 1), ("MESSAGE", 2)]
