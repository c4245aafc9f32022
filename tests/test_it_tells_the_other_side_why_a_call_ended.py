"""A browser that ends a call on a media failure names the cause; the IMS side records it on the
call and carries it in the BYE as `Reason: RELEASE_CAUSE;cause=…;text="…"` (RFC 3326, TS 24.229)
through the core, and the other side's IMS side reads it back: that side's browser and record say
why too, not just that the other side hung up. Two guests of one Kamailio block call each other."""

import pytest
from asgiref.sync import sync_to_async

from identity_blocks.models import IdentityAssignment
from ims.models import CallRecord
from ims.service import ImsSide
from tests.support.ims import another_guest, call_control, call_state, guest_with_a_browser, running, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"
ANSWER = OFFER.replace("40000", "40002")


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False
    settings.IMS_MEDIA_POLICY = "ims.media.PassThrough"  # signalling under test: the SDPs here are stand-ins


def _endings():
    return sorted(CallRecord.objects.exclude(ended_at=None).values_list("end_reason", flat=True))


async def test_it_carries_a_media_failure_to_the_other_side_in_the_bye(kamailio):
    caller, calling, to_caller = await guest_with_a_browser(kamailio)
    callee, called, to_callee = await another_guest()
    stop, task = await running(ImsSide())
    try:
        registered = IdentityAssignment.objects.filter(registration_state="registered")
        await until(lambda: registered.count() == 2)
        await call_control(caller, "start", call="d1", assignment=calling.pk, to=called.impu, sdp=OFFER)
        ringing = await call_state(to_callee, "ringing")
        await call_control(callee, "answer", call=ringing["call"], sdp=ANSWER)
        await call_state(to_caller, "connected")
        await call_control(caller, "hangup", call="d1", reason="the connection dropped")
        assert (await call_state(to_caller, "ended"))["reason"] == "the connection dropped"
        assert (await call_state(to_callee, "ended"))["reason"] == "the other side: the connection dropped"
        expected = ["the connection dropped", "the other side: the connection dropped"]
        await until(lambda: _endings() == expected)
    finally:
        stop.set()
        await task
    assert await sync_to_async(_endings)() == expected
