"""A phone that does not copy Record-Route into its 200 leaves the caller's dialog without a route
set; the ACK, a re-INVITE and the BYE still go through the outbound proxy (TS 24.229: the P-CSCF
is always the first hop), so the phone receives each of them from Kamailio and can be hung up."""

import asyncio

import pytest

from tests.support.ims import call_control, call_state
from tests.support.kamailio import DOMAIN, PASSWORD
from tests.support.services import free_port
from tests.support.sipp import finished, sipp
from tests.support.sipp_builtin import builtin, received, sent, until_received

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
HOLD = OFFER.replace("o=- 1 1", "o=- 1 2") + "a=sendonly\r\n"


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False
    settings.IMS_MEDIA_POLICY = "ims.media.PassThrough"  # signalling under test: the SDPs here are stand-ins


async def _registered_phone(kamailio, tmp_path):
    port = free_port()
    register = await sipp("register", core_port=kamailio.udp, local_port=port, service="x",
                          fields=[DOMAIN, "callee"], auth=(f"callee@{DOMAIN}", PASSWORD), workdir=tmp_path)  # fmt: skip
    await finished(register, tmp_path)
    return port


def _via_kamailio(kamailio, request):
    """The request's top Via is Kamailio's: it crossed the proxy rather than coming to the phone direct."""
    top = next(line for line in request.splitlines() if line.startswith("Via:"))
    return f"SIP/2.0/UDP 127.0.0.1:{kamailio.udp};" in top


async def test_it_sends_ack_and_bye_to_sipps_builtin_phone_through_the_proxy(kamailio, registered_guest, tmp_path):
    holder, assignment, receive = registered_guest
    port = await _registered_phone(kamailio, tmp_path)
    phone = await builtin("uas", core_port=kamailio.udp, local_port=port, workdir=tmp_path)
    await asyncio.sleep(0.3)  # sipp binds its port
    await call_control(holder, "start", call="r1", assignment=assignment.pk, to=f"sip:callee@{DOMAIN}", sdp=OFFER)
    await call_state(receive, "connected")
    trace = tmp_path / f"uas-{port}.msg"
    await until_received(trace, "ACK ")  # sipp's uas takes an ACK after the BYE for an error
    await call_control(holder, "hangup", call="r1")
    assert (await call_state(receive, "ended"))["reason"] == "hung up"
    await finished(phone, tmp_path)  # it got the BYE and answered it
    assert "Record-Route" not in sent(trace, "SIP/2.0 200")[0]  # the habit under test
    acks, byes = received(trace, "ACK "), received(trace, "BYE ")
    assert acks
    assert byes
    assert all(_via_kamailio(kamailio, request) for request in acks + byes)


async def test_it_sends_a_reinvite_through_the_proxy_without_a_route_set(kamailio, registered_guest, tmp_path):
    holder, assignment, receive = registered_guest
    port = await _registered_phone(kamailio, tmp_path)
    phone = await sipp("answer_reinvite_without_record_route", core_port=kamailio.udp, local_port=port,
                       service="x", fields=[], workdir=tmp_path)  # fmt: skip
    await asyncio.sleep(0.3)
    await call_control(holder, "start", call="r2", assignment=assignment.pk, to=f"sip:callee@{DOMAIN}", sdp=OFFER)
    await call_state(receive, "connected")
    trace = tmp_path / f"answer_reinvite_without_record_route-{port}.msg"
    await until_received(trace, "ACK ")  # before the re-INVITE, which a proxy's workers might reorder
    await call_control(holder, "update", call="r2", sdp=HOLD)
    assert "a=recvonly" in (await call_state(receive, "updated"))["sdp"]  # Kamailio relayed it, the phone answered
    await call_control(holder, "hangup", call="r2")
    await call_state(receive, "ended")
    await finished(phone, tmp_path)
    reinvite = received(trace, "INVITE ")[1]
    assert _via_kamailio(kamailio, reinvite)
    assert "CSeq: 2 INVITE" in reinvite
