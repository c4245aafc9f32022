"""Jane and her advisor chat; each message crosses the IMS as SIP MESSAGE between their two
identities and is numbered when it arrives, so both sides see one order."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from help_desk import actions, chat
from help_desk.events import request_group
from help_desk.models import ChatMessage
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from ims.database import call as _db
from ims.identities import stored_ha1, token_identity
from ims.models import PagerMessage
from ims.service import ImsSide
from ims.standin import StandInCore
from tests.support.ims import open_conversation, running, until
from tests.support.services import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


def _conversation():
    request, jane, advisor = open_conversation()
    return request.pk, jane, advisor


@pytest.fixture
async def ims(settings):
    settings.IMS_STANDIN, settings.IMS_STANDIN_PORT = True, free_port()
    core = await StandInCore(_db(stored_ha1), token_identity).start("127.0.0.1", settings.IMS_STANDIN_PORT)
    stop, task = await running(ImsSide())
    yield
    stop.set()
    await task
    core.close()


async def _numbered(receive, count):
    got: list[dict] = []
    while len(got) < count:
        event = await asyncio.wait_for(receive(), 10)
        if event["type"] == "chat.message" and event["message"]["seq"]:
            got.append(event["message"])
    return got


async def test_it_numbers_messages_as_they_arrive_through_the_ims(ims):
    request_id, jane, advisor = await sync_to_async(_conversation)()
    await until(lambda: set(IdentityAssignment.objects.values_list("registration_state", flat=True)) == {"registered"})
    layer = get_channel_layer()
    screen = await layer.new_channel()
    await layer.group_add(request_group(request_id), screen)

    first = await sync_to_async(chat.post_message)(request_id, jane, "Where do I enter my pension?", "j1")
    assert first.seq is None  # on its way through the IMS
    await sync_to_async(chat.post_message)(request_id, advisor, "Line 5a, second page.", "a1")
    shown = await _numbered(lambda: layer.receive(screen), 2)
    assert [m["seq"] for m in shown] == [1, 2]
    assert {m["body"] for m in shown} == {"Where do I enter my pension?", "Line 5a, second page."}
    assert all(m["via_ims"] for m in shown)

    again = await sync_to_async(chat.post_message)(request_id, jane, "Where do I enter my pension?", "j1")
    assert again.pk == first.pk  # a resend after a reconnect is the same message
    assert await sync_to_async(PagerMessage.objects.filter(direction="out").count)() == 2

    # Two senders' messages cross the IMS at once: either may arrive first. Resuming after the
    # first gives exactly the second, whichever it is.
    second = next(m for m in shown if m["seq"] == 2)
    missed = await sync_to_async(chat.messages_after)(request_id, jane, 1)
    assert [(m.seq, m.from_advisor, m.body) for m in missed] == [(2, second["from_advisor"], second["body"])]
    rows = ChatMessage.objects.order_by("seq").values_list("seq", "pager_message__direction")
    stored = await sync_to_async(lambda: list(rows))()
    assert stored == [(1, "in"), (2, "in")]  # each one stored on arrival from the IMS
    assert await sync_to_async(chat.mark_read)(request_id, advisor, 1) == 1


async def test_it_carries_a_long_message_over_tcp_through_the_core(ims):
    """Too large for UDP (RFC 3261 §18.1.1), it goes over TCP, which the stand-in core takes too."""
    request_id, jane, _ = await sync_to_async(_conversation)()
    await until(lambda: set(IdentityAssignment.objects.values_list("registration_state", flat=True)) == {"registered"})
    layer = get_channel_layer()
    screen = await layer.new_channel()
    await layer.group_add(request_group(request_id), screen)
    long = ("Where do I enter my pension? " * 200)[:5000]
    await sync_to_async(chat.post_message)(request_id, jane, long, "j1")
    [shown] = await _numbered(lambda: layer.receive(screen), 1)
    assert shown["body"] == long
    assert shown["via_ims"]


async def test_it_refuses_a_stranger_and_a_closed_conversation(ims):
    request_id, jane, _ = await sync_to_async(_conversation)()
    with pytest.raises(actions.NotYours):
        await sync_to_async(chat.post_message)(request_id, Holder.guest(Holder.new_guest_key()), "hi", "x1")
    with pytest.raises(chat.ChatRefused, match="1 to 10000"):
        await sync_to_async(chat.post_message)(request_id, jane, "   ", "j2")
    await sync_to_async(actions.close_request)(request_id)
    with pytest.raises(chat.ChatRefused, match="not open"):
        await sync_to_async(chat.post_message)(request_id, jane, "hello?", "j3")
