"""A MESSAGE that carries a conversation's chat is shown on the advisor's desk as chat, numbered,
and not a second time as a message to the advisor's identity; a MESSAGE from anyone else to that
identity is shown as such a message. The IMS side tells the desk which is which with the event
(the help desk took the chat as its own)."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from ims.actions import Inbound, receive_messages
from tests.factories import make_conversation
from tests.support.sockets import communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]

BOB = "sip:bob@elsewhere.example.net"


async def _shown(socket) -> list[tuple[str, str]]:
    """The desk's chat and message events, up to the answer to a last frame sent after them."""
    await socket.send_to(text_data=json.dumps({"type": "ice.refresh", "ref": "last"}))
    seen = []
    while (event := json.loads(await socket.receive_from(timeout=5))).get("ref") != "last":
        if event["type"] in ("chat.message", "ims.message"):
            seen.append((event["type"], event["message"]["body"]))
    return seen


async def test_the_desk_shows_jane_s_chat_as_chat_and_bob_s_message_as_a_message(settings):
    settings.HELP_CHAT_OVER_IMS = True
    request, _, _ = await sync_to_async(make_conversation)()
    desk = communicator("/ws/desk/", user=await sync_to_async(lambda: request.advisor.user)())
    assert (await desk.connect())[0]
    from_jane = Inbound(request.advisor_impu, request.customer_impu, "text/plain", b"About my figures", "c1", 1)
    from_bob = Inbound(request.advisor_impu, BOB, "text/plain", b"Lunch at noon?", "c2", 1)
    await sync_to_async(receive_messages)([from_jane, from_bob])
    await asyncio.sleep(0.5)  # both events reach the desk before the last frame's answer
    assert sorted(await _shown(desk)) == [("chat.message", "About my figures"), ("ims.message", "Lunch at noon?")]
    await desk.disconnect()
