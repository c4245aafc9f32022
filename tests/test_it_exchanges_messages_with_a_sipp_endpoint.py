"""MESSAGE both ways between an assigned identity and a non-WebRTC IMS endpoint (sipp), through
Kamailio as the IMS core, with the IMS side running as in production."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from identity_blocks import actions
from ims import actions as ims_actions
from ims.models import MessageStatus, PagerMessage
from tests.support.ims import until
from tests.support.kamailio import DOMAIN, PASSWORD
from tests.support.services import free_port
from tests.support.sipp import finished, sipp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


@pytest.fixture(autouse=True)
def operators_core(settings):
    settings.IMS_STANDIN = False


async def _inbound_on_screen(receive):
    while True:
        event = await asyncio.wait_for(receive(), 10)
        if event["type"] == "ims.message" and event["message"]["direction"] == "in":
            return event["message"]


async def test_it_exchanges_messages_with_sipp(kamailio, registered_guest, tmp_path):
    jane, assignment, browser = registered_guest
    phone = free_port()
    common = dict(core_port=kamailio.udp, workdir=tmp_path, service="sipp")
    register = await sipp(
        "register", local_port=phone, fields=[DOMAIN, "sipp"], auth=(f"sipp@{DOMAIN}", PASSWORD), **common
    )
    await finished(register, tmp_path)

    # Portal to phone: the phone checks the text it receives.
    phone_waits = await sipp("receive_message", local_port=phone, fields=[DOMAIN, "line 5a"], **common)
    await asyncio.sleep(0.3)
    sent = await sync_to_async(ims_actions.send_message)(jane, f"sip:sipp@{DOMAIN}", "Tax question about line 5a")
    await finished(phone_waits, tmp_path)
    await until(lambda: PagerMessage.objects.get(pk=sent.pk).status == MessageStatus.SENT)

    # Phone to portal: stored, answered 200, and on Jane's screen.
    user = assignment.impu.split(":")[1].split("@")[0]
    reply = dict(common, service=user)
    fields = [DOMAIN, "Line 5a is pensions", "sipp"]
    phone_sends = await sipp("send_message", local_port=free_port(), fields=fields, **reply)
    await finished(phone_sends, tmp_path)
    shown = await _inbound_on_screen(browser)
    assert (shown["body"], shown["remote"]) == ("Line 5a is pensions", f"sip:sipp@{DOMAIN}")

    # With Jane's window closed, the phone hears 480.
    await sync_to_async(actions.session_closed)(jane, f"test.browser.{jane.guest_key[:8]}")
    fields = [DOMAIN, "anyone there?", "sipp"]
    unavailable = await sipp("send_message", local_port=free_port(), fields=fields, status=480, **reply)
    await finished(unavailable, tmp_path)


async def test_it_sends_a_message_too_large_for_udp_over_tcp(kamailio, registered_guest, tmp_path):
    jane, _, _ = registered_guest
    phone = free_port()
    common = dict(core_port=kamailio.udp, workdir=tmp_path, service="sipp")
    auth = (f"sipp@{DOMAIN}", PASSWORD)
    await finished(await sipp("register", local_port=phone, fields=[DOMAIN, "sipp"], auth=auth, **common), tmp_path)
    phone_waits = await sipp("receive_message", local_port=phone, fields=[DOMAIN, "figures"], **common)
    await asyncio.sleep(0.3)
    long_text = "My figures: " + "1234.56; " * 300  # about 2.7 KB, over the 1300 bytes UDP takes safely
    sent = await sync_to_async(ims_actions.send_message)(jane, f"sip:sipp@{DOMAIN}", long_text)
    await finished(phone_waits, tmp_path)
    await until(lambda: PagerMessage.objects.get(pk=sent.pk).status == MessageStatus.SENT)
    received = next(tmp_path.glob("receive_message-*.msg")).read_text()
    assert "SIP/2.0/TCP 127.0.0.1:" in received  # our hop to the core went over TCP (RFC 3261 §18.1.1)
