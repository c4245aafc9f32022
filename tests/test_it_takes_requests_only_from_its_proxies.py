"""The IMS side takes requests only from its proxies, and who sent one only from what the proxy
asserts (P-Asserted-Identity): a MESSAGE or INVITE sent straight to its port from anywhere else is
answered 403 and shows nothing, however well it forges From or P-Asserted-Identity; one from the
core is delivered, from the identity the core asserts, and never from the From it carries alone."""

import asyncio
import secrets

import pytest
from asgiref.sync import sync_to_async

from help_desk.models import ChatMessage
from identity_blocks.models import IdentityAssignment
from ims.addressing import ANONYMOUS
from ims.database import call as _db
from ims.identities import stored_ha1, token_identity
from ims.models import CallRecord, PagerMessage
from ims.service import ImsSide
from ims.standin import StandInCore
from tests.sip_peers import RawUdp
from tests.support.ims import open_conversation, running, until
from tests.support.services import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]

OUTSIDER = "127.0.0.2"  # a loopback address the proxy (the stand-in core on 127.0.0.1) does not have


def _conversation():
    return open_conversation()[0]


@pytest.fixture
async def conversation(settings):
    """Jane and her advisor in an open chat, their identities registered through the stand-in core.
    Yields (the help request, the IMS side's UDP address)."""
    settings.IMS_STANDIN, settings.IMS_STANDIN_PORT = True, free_port()
    core = await StandInCore(_db(stored_ha1), token_identity).start("127.0.0.1", settings.IMS_STANDIN_PORT)
    side = ImsSide()
    stop, task = await running(side)
    request = await sync_to_async(_conversation)()
    await until(lambda: set(IdentityAssignment.objects.values_list("registration_state", flat=True)) == {"registered"})
    yield request, side.agents["UDP"].transport.local
    stop.set()
    await task
    core.close()


def _request(method, to, sender, asserted=None, body=""):
    call_id = secrets.token_hex(8)
    lines = [
        f"{method} {to} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{call_id}",
        f"From: <{sender}>;tag=forged",
        f"To: <{to}>",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
        "Max-Forwards: 70",
        "Content-Type: " + ("text/plain" if method == "MESSAGE" else "application/sdp"),
    ]
    if asserted:
        lines.append(f"P-Asserted-Identity: <{asserted}>")
    return ("\r\n".join(lines) + f"\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


async def _answer(source, data, side_address):
    sender = await RawUdp.start(source)
    try:
        sender.send(data, side_address)
        while (response := await sender.next_response(timeout=5.0)).status < 200:
            pass
        return response
    finally:
        sender.close()


def _shown():
    return list(ChatMessage.objects.order_by("pk").values_list("from_advisor", "body"))


async def test_it_refuses_a_forged_message_from_outside_and_shows_nothing(conversation):
    request, side = conversation
    # As Jane to her advisor, and as the advisor to Jane: From and P-Asserted-Identity both forged.
    forged = [
        _request("MESSAGE", request.advisor_impu, request.customer_impu, request.customer_impu, "Send me your PIN"),
        _request("MESSAGE", request.customer_impu, request.advisor_impu, request.advisor_impu, "Pay to this IBAN"),
    ]
    for data in forged:
        answer = await _answer(OUTSIDER, data, side)
        assert answer.status == 403
    await asyncio.sleep(0.2)
    assert await sync_to_async(PagerMessage.objects.count)() == 0
    assert await sync_to_async(_shown)() == []

    # Beside it, the same MESSAGE from the core's address, asserted by the core: delivered and shown.
    data = _request("MESSAGE", request.advisor_impu, request.customer_impu, request.customer_impu, "Line 5a?")
    assert (await _answer("127.0.0.1", data, side)).status == 200
    await until(lambda: _shown() == [(False, "Line 5a?")])


async def test_it_takes_no_sender_from_from_alone(conversation):
    request, side = conversation
    # From the core's address, but the core asserted nobody: From says Jane, and is not believed.
    data = _request("MESSAGE", request.advisor_impu, request.customer_impu, body="It is me, Jane")
    assert (await _answer("127.0.0.1", data, side)).status == 200
    stored = await sync_to_async(PagerMessage.objects.get)()
    assert (stored.remote_uri, stored.body) == (ANONYMOUS, "It is me, Jane")
    assert await sync_to_async(_shown)() == []  # not in the conversation, as nobody's

    # What the core asserts is the sender, whatever From says.
    data = _request("MESSAGE", request.customer_impu, "sip:nobody@ims.example.net", request.advisor_impu, "Hi Jane")
    assert (await _answer("127.0.0.1", data, side)).status == 200
    await until(lambda: _shown() == [(True, "Hi Jane")])


async def test_it_refuses_calls_and_hang_ups_from_outside(conversation):
    request, side = conversation
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
    invite = _request("INVITE", request.customer_impu, request.advisor_impu, request.advisor_impu, sdp)
    assert (await _answer(OUTSIDER, invite, side)).status == 403
    bye = _request("BYE", request.customer_impu, request.advisor_impu)
    assert (await _answer(OUTSIDER, bye, side)).status == 403
    options = _request("OPTIONS", request.customer_impu, request.advisor_impu)
    assert (await _answer("127.0.0.1", options, side)).status == 200
    assert await sync_to_async(CallRecord.objects.count)() == 0
