"""The secure chat line's session is a data channel only (RFC 8841). Between two of the portal's
WebRTC clients whose service includes secure chat its SDP crosses unchanged, fingerprint and all,
and never reaches the media gateway; otherwise, or mixed with audio, it is refused with a reason.
Only the two sides of an open conversation whose agreement includes secure chat may ask for it,
and the portal records the segment (who, when) from the IMS side's records of its two legs, never
what was said."""

import socket

import pytest
from asgiref.sync import sync_to_async

from help_desk import actions, calls, secure, transcripts
from help_desk.models import SecureSegment
from identity_blocks.holders import Holder
from ims import actions as ims_actions
from ims.media import DATA_CHANNEL, PASSTHROUGH, MediaCall, MediaRefused, PerCall, data_channel_only
from ims.rtpengine import RtpEngine
from tests.factories import make_conversation, make_operator, make_queue, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]

FINGERPRINT = "a=fingerprint:sha-256 " + ":".join(["4F"] * 32)
DATA = (
    "v=0\r\no=- 77 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
    f"a=ice-ufrag:wxyz\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n{FINGERPRINT}\r\na=setup:actpass\r\n"
    "a=sctp-port:5000\r\na=max-message-size:262144\r\n"
)


def _conversation(secure_chat: bool, domain: str = "ims.example.net", advisor: str = "alex"):
    return make_conversation(make_queue(allows_secure_chat=secure_chat, operator=make_operator(domain)), advisor)


AUDIO = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=rtpmap:111 opus/48000/2\r\n"


@pytest.fixture
def watched_gateway():
    """A media gateway address that only listens: anything sent to it is caught."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listening:
        listening.bind(("127.0.0.1", 0))
        listening.setblocking(False)
        yield RtpEngine(*listening.getsockname(), timeout=0.2, attempts=1), listening


def _heard(listening):
    try:
        return listening.recv(65536)
    except BlockingIOError:
        return b""


async def test_it_passes_a_data_channel_through_between_the_portal_s_clients(watched_gateway):
    gateway, listening = watched_gateway
    request, _, _ = await sync_to_async(_conversation)(True)
    policy = PerCall(gateway)
    call = MediaCall("k1", True, request.customer_impu, request.advisor_impu)
    assert data_channel_only(DATA)
    assert await policy.toward_ims(call, DATA) == DATA  # unchanged, the fingerprint with it
    assert await policy.toward_browser(call, DATA.replace("actpass", "active")) == DATA.replace("actpass", "active")
    assert policy.recorded("k1") == {"media": PASSTHROUGH, "codec": DATA_CHANNEL}
    await policy.ended(call)
    assert _heard(listening) == b""  # the gateway never heard of it


async def test_it_refuses_a_data_channel_it_cannot_pass_through(watched_gateway):
    gateway, listening = watched_gateway
    request, _, _ = await sync_to_async(_conversation)(True)
    to_a_phone = MediaCall("k2", True, request.customer_impu, "sip:phone@ims.example.net")
    with pytest.raises(MediaRefused, match="end to end between two WebRTC clients"):
        await PerCall(gateway).toward_ims(to_a_phone, DATA)
    mixed = MediaCall("k3", True, request.customer_impu, request.advisor_impu)
    with pytest.raises(MediaRefused, match="carried end to end only"):
        await PerCall(gateway).toward_ims(mixed, DATA + AUDIO)
    without_secure_chat, _, _ = await sync_to_async(_conversation)(False, "other.example.net", "blake")
    call = MediaCall("k4", True, without_secure_chat.customer_impu, without_secure_chat.advisor_impu)
    with pytest.raises(MediaRefused, match="whose service includes it"):
        await PerCall(gateway).toward_ims(call, DATA)
    assert _heard(listening) == b""


def test_it_lets_only_the_two_sides_ask_where_the_agreement_includes_secure_chat():
    request, jane, advisor = make_conversation(make_queue(allows_secure_chat=True))
    assert secure.placement(request.pk, jane).to == request.advisor_impu
    assert secure.placement(request.pk, advisor).to == request.customer_impu
    with pytest.raises(actions.NotYours):
        secure.placement(request.pk, Holder.guest(Holder.new_guest_key()))
    plain_queue = make_queue(allows_secure_chat=False, operator=make_operator("other.example.net"))
    plain, jane_too, _ = make_conversation(plain_queue, advisor_name="blake")
    with pytest.raises(calls.CallRefused, match="Secure chat is not part"):
        secure.placement(plain.pk, jane_too)
    actions.close_request(request.pk)
    with pytest.raises(calls.CallRefused, match="not open"):
        secure.placement(request.pk, jane)


def _leg(key, local, remote, direction, state, **more):
    event = {"type": "ims.call", "call": key, "state": state, "direction": direction}
    caller, callee = (local, remote) if direction == "out" else (remote, local)
    return ims_actions.call_changed({**event, "caller": caller, "callee": callee, **more})


def test_it_records_who_was_in_a_secure_segment_and_when_not_what():
    request, _, _ = make_conversation(make_queue(allows_secure_chat=True))
    customer, advisor = request.customer_impu, request.advisor_impu
    connected = {"media": PASSTHROUGH, "codec": DATA_CHANNEL}
    _leg("asker", advisor, customer, "out", "calling")
    assert not SecureSegment.objects.exists()  # asked, not yet started
    _leg("asker", advisor, customer, "out", "connected", **connected)
    _leg("answerer", customer, advisor, "in", "connected", **connected)
    segment = SecureSegment.objects.get()
    assert (segment.request_id, segment.asked_by_advisor, segment.ended_at) == (request.pk, True, None)
    assert (segment.customer_impu, segment.advisor_impu) == (customer, advisor)
    assert (segment.asker_call, segment.answerer_call) == ("asker", "answerer")
    _leg("answerer", customer, advisor, "in", "ended", reason="the other side hung up")
    _leg("asker", advisor, customer, "out", "ended", reason="hung up")
    segment.refresh_from_db()
    assert segment.ended_at is not None
    assert segment.end_reason == "the other side hung up"
    _leg("voice", customer, advisor, "out", "connected", media=PASSTHROUGH, codec="opus")  # a call is no segment
    assert SecureSegment.objects.count() == 1


def test_it_counts_a_segment_a_secure_chat_only_once_both_browsers_had_it_open(client):
    request, jane, advisor = make_conversation(make_queue(allows_secure_chat=True))
    customer, advisor_impu = request.customer_impu, request.advisor_impu
    connected = {"media": PASSTHROUGH, "codec": DATA_CHANNEL}
    assert secure.mark_opened(request.pk, jane) is None  # her channel opened before the core's 200 was recorded
    _leg("refused", advisor_impu, customer, "out", "connected", **connected)
    _leg("refused-in", customer, advisor_impu, "in", "connected", **connected)
    _leg("refused", advisor_impu, customer, "out", "ended", reason="the keys did not match")  # DTLS said no
    refused = SecureSegment.objects.get()
    assert (refused.opened, refused.outcome) == (False, "The secure line could not be opened: the keys did not match")
    with pytest.raises(actions.NotYours):
        secure.mark_opened(request.pk, Holder.guest(Holder.new_guest_key()))
    _leg("asker", advisor_impu, customer, "out", "connected", **connected)
    for _ in range(2):  # each side reports only its own end: twice from one side is still one side
        assert not _opened(secure.mark_opened(request.pk, jane))
    assert _opened(secure.mark_opened(request.pk, advisor))
    _leg("asker", advisor_impu, customer, "out", "ended", reason="hung up")
    lines = transcripts.text(request).splitlines()
    assert "The secure line could not be opened: the keys did not match; nothing was sent on it." in lines[2]
    assert "Secure chat to " in lines[3]
    client.force_login(make_user("admin", staff=True))
    listed = client.get("/admin/help_desk/securesegment/").content.decode()
    assert "The secure line could not be opened: the keys did not match" in listed
    assert "Secure chat, end to end between the two browsers (not stored)" in listed


def _opened(segment: SecureSegment | None) -> bool:
    assert segment is not None
    return segment.opened
