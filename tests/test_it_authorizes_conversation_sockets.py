"""/ws/help/<request>/ is only for the customer of that request; /ws/desk/ only for advisors; an
advisor acts only on requests ringing for them and conversations of theirs."""

import json

import pytest
from asgiref.sync import sync_to_async

from help_desk import actions
from identity_blocks.holders import Holder
from tests.factories import make_advisor, make_queue, make_user
from tests.support.sockets import communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


def _setup():
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available")
    bea = make_advisor("bea", queue, presence="away")
    key = Holder.new_guest_key()
    request = actions.request_help(Holder.guest(key), queue, "chat", False)
    return request.pk, key, alex, bea


async def _events(socket, count):
    return [json.loads(await socket.receive_from(timeout=5)) for _ in range(count)]


async def test_it_lets_only_the_customer_into_her_request():
    request_id, key, _, _ = await sync_to_async(_setup)()
    assert not (await communicator(f"/ws/help/{request_id}/").connect())[0]
    assert not (await communicator(f"/ws/help/{request_id}/", session={"guest_key": Holder.new_guest_key()}).connect())[
        0
    ]
    outsider = await sync_to_async(make_user)("outsider")
    assert not (await communicator(f"/ws/help/{request_id}/", user=outsider).connect())[0]
    jane = communicator(f"/ws/help/{request_id}/", session={"guest_key": key})
    assert (await jane.connect())[0]
    first, second = await _events(jane, 2)
    assert first["type"] == "help.request"
    assert (second["type"], second["position"]) == ("help.position", 1)
    await jane.send_to(text_data=json.dumps({"type": "chat.send", "client_id": "j1", "body": "hello?"}))
    assert (await _events(jane, 1))[0]["reason"] == "the conversation is not open"  # nobody accepted yet
    await jane.disconnect()


async def test_it_keeps_the_desk_for_advisors_and_their_own_requests():
    request_id, _, _alex, bea = await sync_to_async(_setup)()
    outsider = await sync_to_async(make_user)("outsider")
    assert not (await communicator("/ws/desk/", user=outsider).connect())[0]
    bea_desk = communicator("/ws/desk/", user=await sync_to_async(lambda: bea.user)())
    assert (await bea_desk.connect())[0]
    state = (await _events(bea_desk, 1))[0]
    assert state["type"] == "desk.state"
    await bea_desk.send_to(text_data=json.dumps({"type": "help.accept", "request": request_id, "ref": 1}))
    refused = await _events(bea_desk, 2)
    assert {"type": "error", "reason": "This request is no longer ringing for you.", "ref": 1} in refused
    await bea_desk.send_to(
        text_data=json.dumps({"type": "chat.send", "request": request_id, "client_id": "b1", "body": "x"})
    )
    assert (await _events(bea_desk, 1))[0]["reason"] == "This conversation is not yours."
    await bea_desk.send_to(text_data=json.dumps({"type": "presence.set", "presence": "asleep"}))
    assert (await _events(bea_desk, 1))[0]["reason"] == "presence: one of available, busy, away or offline"
    await bea_desk.disconnect()


async def test_it_answers_a_field_of_the_wrong_kind_with_an_error_and_stays_open():
    request_id, key, _, _ = await sync_to_async(_setup)()
    jane = communicator(f"/ws/help/{request_id}/", session={"guest_key": key})
    assert (await jane.connect())[0]
    await _events(jane, 2)  # the request and her place in line
    await jane.send_to(text_data=json.dumps({"type": "chat.resume", "after": "yesterday", "ref": 7}))
    (error,) = await _events(jane, 1)
    assert (error["type"], error["reason"], error["ref"]) == ("error", "after: A valid integer is required.", 7)
    await jane.send_to(text_data=json.dumps({"type": "chat.resume", "after": 0}))
    (resumed,) = await _events(jane, 1)
    assert resumed["type"] == "chat.resumed"  # the socket lived through the bad frame
    await jane.disconnect()
