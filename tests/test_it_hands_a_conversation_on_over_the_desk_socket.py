"""Over the desk's socket: the chooser's options, transfer frames that name both or neither of an
advisor and a queue, or a conversation not the advisor's, get an error event and the socket
stays open; a proper transfer tells the first desk, which hears nothing more of the
conversation, while the new advisor's desk opens it and Jane's page hears whom she talks with."""

import json

import pytest
from asgiref.sync import sync_to_async

from help_desk.models import Advisor
from tests.factories import make_advisor, make_conversation, make_queue
from tests.support.sockets import communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


async def _next(socket, kind):
    while True:
        event = json.loads(await socket.receive_from(timeout=5))
        if event["type"] == kind:
            return event


@sync_to_async
def _two_advisors():
    queue = make_queue()
    request, jane, _ = make_conversation(queue, "alex")
    sam = make_advisor("sam", queue, presence="available")
    sam.user.first_name, sam.user.last_name = "Sam", "Berg"
    sam.user.save()
    return request.pk, jane, Advisor.objects.get(user__username="alex").user, sam


async def _desk(user):
    desk = communicator("/ws/desk/", user=user)
    assert (await desk.connect())[0]
    await _next(desk, "desk.state")
    return desk


@pytest.fixture(autouse=True)
def _direct_chat(settings):
    settings.HELP_CHAT_OVER_IMS = False


async def test_a_transfer_moves_the_conversation_between_the_desks():
    request_id, jane_holder, alex_user, sam = await _two_advisors()
    jane = communicator(f"/ws/help/{request_id}/", session={"guest_key": jane_holder.guest_key})
    assert (await jane.connect())[0]
    await _next(jane, "help.request")
    alex, sams = await _desk(alex_user), await _desk(await sync_to_async(lambda: sam.user)())

    await alex.send_to(text_data=json.dumps({"type": "help.transfer_options", "request": request_id, "ref": 1}))
    options = await _next(alex, "help.transfer_options")
    assert (options["advisors"], options["queues"], options["ref"]) == ([{"id": sam.pk, "name": "Sam Berg"}], [], 1)
    for frame, reason in [
        ({"request": request_id, "advisor": sam.pk, "queue": 1}, "name an advisor or a queue"),
        ({"request": request_id}, "name an advisor or a queue"),
        ({"request": request_id, "advisor": "sam"}, "advisor: A valid integer is required."),
    ]:
        await alex.send_to(text_data=json.dumps({"type": "help.transfer", **frame}))
        assert (await _next(alex, "error"))["reason"] == reason
    await sams.send_to(text_data=json.dumps({"type": "help.transfer", "request": request_id, "advisor": sam.pk}))
    assert (await _next(sams, "error"))["reason"] == "This conversation is not yours to transfer."

    await alex.send_to(text_data=json.dumps({"type": "help.transfer", "request": request_id, "advisor": sam.pk}))
    assert await _next(alex, "help.transferred") == {
        "type": "help.transferred",
        "request": request_id,
        "to": "Sam Berg",
    }
    assert (await _next(sams, "help.conversation"))["request"]["id"] == request_id
    changed = await _next(jane, "help.request")
    assert (changed["request"]["advisor_name"], changed["request"]["status"]) == ("Sam Berg", "active")

    await jane.send_to(text_data=json.dumps({"type": "chat.send", "client_id": "j1", "body": "Still there?"}))
    assert (await _next(sams, "chat.message"))["message"]["body"] == "Still there?"
    heard = []
    while not await alex.receive_nothing(timeout=0.5):
        heard.append(json.loads(await alex.receive_from()))
    assert [event for event in heard if event["type"].startswith("chat.")] == [], heard  # it let go
    for socket in (jane, alex, sams):
        await socket.disconnect()
