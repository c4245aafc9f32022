"""The sender learns the server has a message: numbered at once, the numbered chat.message that
both sides get is the acknowledgement; still crossing the IMS, chat.accepted says it is stored."""

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from help_desk import actions
from help_desk.routing import websocket_urlpatterns
from identity_blocks.holders import Holder
from tests.factories import make_advisor, make_queue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


def _conversation():
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available")
    key = Holder.new_guest_key()
    request = actions.request_help(Holder.guest(key), queue, "chat", False)
    actions.accept_request(alex, request.pk)
    return request.pk, key


async def _jane_says(over_ims: bool, settings) -> Any:
    settings.HELP_CHAT_OVER_IMS = over_ims
    request_id, key = await sync_to_async(_conversation)()
    jane = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/help/{request_id}/")
    jane.scope.update(user=AnonymousUser(), session={"guest_key": key})
    assert (await jane.connect())[0]
    while json.loads(await jane.receive_from(timeout=5))["type"] != "help.request":
        pass
    await jane.send_to(text_data=json.dumps({"type": "chat.send", "client_id": "j1", "body": "My tax form"}))
    answer = json.loads(await jane.receive_from(timeout=5))
    while answer["type"] in ("help.position", "identity.changed"):
        answer = json.loads(await jane.receive_from(timeout=5))
    assert await jane.receive_nothing(timeout=0.3)  # one acknowledgement, not two
    await jane.disconnect()
    return answer


async def test_it_acknowledges_a_message_numbered_at_once_by_the_message_itself(settings):
    answer = await _jane_says(False, settings)
    assert answer["type"] == "chat.message"
    assert (answer["message"]["client_id"], answer["message"]["seq"]) == ("j1", 1)


async def test_it_acknowledges_a_message_crossing_the_ims_before_it_is_numbered(settings):
    answer = await _jane_says(True, settings)
    assert (answer["type"], answer["client_id"]) == ("chat.accepted", "j1")
