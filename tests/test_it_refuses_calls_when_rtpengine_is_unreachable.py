"""A call whose media needs converting is refused with a reason when the media gateway cannot do
it: rtpengine not listening, rtpengine not answering (the NG client's timeout and retry), or no
gateway configured at all (the demo's default). Never a call left hanging: toward the IMS a 503
with a Warning saying why (RFC 3261 §20.43), toward the browser an `ims.call` "ended" with the reason.
The IMS side runs in the test, Kamailio is the core, sipp the G.711 phone."""

import asyncio
import re
import socket
import time

import pytest
from channels.layers import get_channel_layer

from identity_blocks.events import IMS_GROUP
from tests.support.kamailio import DOMAIN
from tests.support.phone import UdpCapture
from tests.support.services import free_port
from tests.support.sipp import finished, sipp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
# A browser's offer, trimmed: Opus over DTLS-SRTP with ICE.
BROWSER_OFFER = (
    "v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 "
    + ":".join(["AB"] * 32)
    + "\r\na=setup:actpass\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
)
REASONS = {
    "nothing listening": "is not reachable",
    "no answer": "did not answer",
    "none configured": "no media gateway is configured",
}


@pytest.fixture(autouse=True, params=list(REASONS))
def gateway(request, settings):
    """Where the IMS side is told rtpengine is; yields the reason the refusal must give."""
    settings.IMS_STANDIN = False
    settings.IMS_MEDIA_POLICY = "ims.media.PerCall"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # reads nothing, answers nothing
        if request.param == "nothing listening":
            settings.IMS_RTPENGINE_NG = ("127.0.0.1", free_port())
        elif request.param == "no answer":
            settings.IMS_RTPENGINE_NG = silent.getsockname()
        else:
            settings.IMS_RTPENGINE_NG = None
        yield REASONS[request.param]


async def _until_ended(receive):
    """The call's events up to its end: (the states seen before, the "ended" event)."""
    seen: list[str] = []
    while True:
        event = await asyncio.wait_for(receive(), 10)
        if event["type"] == "ims.call" and event["state"] == "ended":
            return seen, event
        if event["type"] == "ims.call":
            seen.append(event["state"])


async def test_it_refuses_a_browser_call_to_a_phone(gateway, registered_guest):
    holder, assignment, receive = registered_guest
    started = time.monotonic()
    start = {"type": "ims.call.control", "action": "start", "holder": holder.group, "call": "c1"}
    start.update(assignment=assignment.pk, to=f"sip:phone@{DOMAIN}", sdp=BROWSER_OFFER)
    await get_channel_layer().group_send(IMS_GROUP, start)
    seen, ended = await _until_ended(receive)
    assert seen == []  # no INVITE left: it never showed calling
    assert gateway in ended["reason"]
    assert "media gateway" in ended["reason"]
    assert time.monotonic() - started < 5


async def test_it_refuses_a_phone_call_to_the_browser(gateway, kamailio, registered_guest, tmp_path):
    _, assignment, receive = registered_guest
    user = assignment.impu.split(":")[1].split("@")[0]
    core = UdpCapture(kamailio.udp)  # what reaches the core, to see the IMS side's own answer
    core.start()
    phone = await sipp("invite_refused", core_port=kamailio.udp, local_port=free_port(), service=user,
                       fields=[DOMAIN, "", "phone"], workdir=tmp_path)  # fmt: skip
    seen, ended = await _until_ended(receive)
    assert "ringing" not in seen  # the browser never rang for a call it could not carry
    assert gateway in ended["reason"]
    await finished(phone, tmp_path)  # refused at once (the proxy passes a 503 on as 500, §16.7)
    core.stop()
    refusal = next(d.decode(errors="replace") for d in core.datagrams if d.startswith(b"SIP/2.0 503 "))
    assert re.search(r'^Warning: 399 \S+ "[^"]*media gateway', refusal, flags=re.MULTILINE), refusal
