"""A browser calls a non-WebRTC phone (sipp) through Kamailio: its offer goes out in an INVITE;
the phone rings, answers, the 2xx is ACKed; hanging up sends BYE, or CANCEL while it rings."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from identity_blocks.events import IMS_GROUP
from identity_blocks.models import IdentityAssignment
from ims.service import ImsSide
from tests.support.ims import call_control, call_state, guest_with_a_browser, running, until
from tests.support.kamailio import DOMAIN, PASSWORD
from tests.support.services import free_port
from tests.support.sipp import finished, sipp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 111 0\r\n"


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False
    # Signalling only, with made-up SDP: media unchanged (the per-call policy would refuse calls to a
    # phone that needs conversion when no gateway is configured; that is another test's).
    settings.IMS_MEDIA_POLICY = "ims.media.PassThrough"


async def _phone(kamailio, tmp_path, scenario):
    port = free_port()
    register = await sipp("register", core_port=kamailio.udp, local_port=port, service="x",
                          fields=[DOMAIN, "callee"], auth=(f"callee@{DOMAIN}", PASSWORD), workdir=tmp_path)  # fmt: skip
    await finished(register, tmp_path)
    phone = await sipp(scenario, core_port=kamailio.udp, local_port=port, service="x", fields=[], workdir=tmp_path)
    await asyncio.sleep(0.3)
    return phone


async def test_it_calls_a_phone_that_answers_and_hangs_up(kamailio, registered_guest, tmp_path):
    holder, assignment, receive = registered_guest
    phone = await _phone(kamailio, tmp_path, "answer_in_a_moment")  # its 180 first, whatever the proxy does
    await call_control(holder, "start", call="c1", assignment=assignment.pk, to=f"sip:callee@{DOMAIN}", sdp=OFFER)
    ringing = await call_state(receive, "ringing")
    assert (ringing["direction"], ringing["callee"], ringing["caller"]) == (
        "out",
        f"sip:callee@{DOMAIN}",
        assignment.impu,
    )
    connected = await call_state(receive, "connected")
    assert "PCMU/8000" in connected["sdp"]  # the phone's answer reaches the browser unchanged
    await call_control(holder, "hangup", call="c1")
    assert (await call_state(receive, "ended"))["reason"] == "hung up"
    await finished(phone, tmp_path)  # the phone got the offer, the ACK and the BYE


async def test_it_cancels_a_call_that_is_still_ringing(kamailio, registered_guest, tmp_path):
    holder, assignment, receive = registered_guest
    phone = await _phone(kamailio, tmp_path, "ring_until_cancel")
    await call_control(holder, "start", call="c2", assignment=assignment.pk, to=f"sip:callee@{DOMAIN}", sdp=OFFER)
    await call_state(receive, "ringing")
    await call_control(holder, "hangup", call="c2")
    assert (await call_state(receive, "ended"))["reason"] == "cancelled"
    await finished(phone, tmp_path)


async def test_it_places_no_call_for_someone_elses_identity(kamailio, registered_guest):
    _, assignment, receive = registered_guest
    intruder = {"holder": "holder.guest.intruder", "assignment": assignment.pk, "to": f"sip:callee@{DOMAIN}"}
    await get_channel_layer().group_send(
        IMS_GROUP, {"type": "ims.call.control", "action": "start", "call": "c3", **intruder}
    )
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(call_state(receive, "calling"), 1.0)


class MarkingPolicy:
    """Stands for a media gateway: it leaves a mark on every SDP it sees, in each direction."""

    def __init__(self):
        self.ended_calls = []

    async def toward_ims(self, call, sdp):
        return sdp + "a=x-policy:toward-ims\r\n"

    async def toward_browser(self, call, sdp):
        return sdp + "a=x-policy:toward-browser\r\n"

    async def ended(self, call):
        self.ended_calls.append(call.key)

    def recorded(self, key):
        return {"media": "marked"}


async def test_it_hands_each_sdp_to_the_media_policy(kamailio, tmp_path):
    from ims.calls import CallDesk

    holder, assignment, receive = await guest_with_a_browser(kamailio)
    policy = MarkingPolicy()
    stop, task = await running(ImsSide(calls=CallDesk(media=policy)))
    await until(IdentityAssignment.objects.filter(pk=assignment.pk, registration_state="registered").exists)
    phone = await _phone(kamailio, tmp_path, "answer")
    await call_control(holder, "start", call="c4", assignment=assignment.pk, to=f"sip:callee@{DOMAIN}", sdp=OFFER)
    connected = await call_state(receive, "connected")
    assert connected["sdp"].endswith("a=x-policy:toward-browser\r\n")
    assert connected["media"] == "marked"  # the policy's decision is recorded with the call
    await call_control(holder, "hangup", call="c4")
    await call_state(receive, "ended")
    await finished(phone, tmp_path)
    received_by_phone = next(tmp_path.glob("answer-*.msg")).read_text()
    assert "a=x-policy:toward-ims" in received_by_phone
    await until(lambda: policy.ended_calls == ["c4"])
    stop.set()
    await task


async def test_it_cancels_a_call_nobody_answers_after_its_ring_time(kamailio, tmp_path):
    from ims.calls import CallDesk

    holder, assignment, receive = await guest_with_a_browser(kamailio)
    stop, task = await running(ImsSide(calls=CallDesk(ring_seconds=1.5)))
    await until(IdentityAssignment.objects.filter(pk=assignment.pk, registration_state="registered").exists)
    phone = await _phone(kamailio, tmp_path, "ring_until_cancel")
    await call_control(holder, "start", call="c5", assignment=assignment.pk, to=f"sip:callee@{DOMAIN}", sdp=OFFER)
    await call_state(receive, "ringing")
    assert (await call_state(receive, "ended"))["reason"] == "no answer"
    await finished(phone, tmp_path)  # the phone got the CANCEL and ACKed its 487
    stop.set()
    await task
