"""Every frame a browser sends is checked against its event type's schema before any handler
runs: what JSON cannot say (Infinity), numbers past any column, nesting no event needs, ids past
a bigint, a missing request, a chat body that is not a string, text a database refuses. Each gets
an error event naming the problem, the socket stays open, and the same socket's next proper frame
works. Nothing one guest sends fails another's message in the shared batch."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from help_desk.chat import MAX_CHARS
from help_desk.models import ChatMessage
from tests.factories import make_conversation, make_queue, make_user
from tests.support.sockets import communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


async def _next(socket, kind=None):
    while True:
        event = json.loads(await socket.receive_from(timeout=5))
        if kind is None or event["type"] == kind:
            return event


async def _open_conversation(queue=None, advisor="alex"):
    queue = queue or await sync_to_async(make_queue)()
    request, jane, _ = await sync_to_async(make_conversation)(queue, advisor)
    socket = communicator(f"/ws/help/{request.pk}/", session={"guest_key": jane.guest_key})
    assert (await socket.connect())[0]
    await _next(socket, "help.request")
    desk = communicator("/ws/desk/", user=await sync_to_async(lambda: request.advisor.user)())
    assert (await desk.connect())[0]
    await _next(desk, "desk.state")
    return request.pk, socket, desk


async def _refused(socket, text):
    await socket.send_to(text_data=text)
    event = await _next(socket, "error")
    return event["reason"]


@sync_to_async
def _bodies():
    return list(ChatMessage.objects.order_by("body").values_list("body", flat=True))


@pytest.fixture(autouse=True)
def _direct_chat(settings):
    settings.HELP_CHAT_OVER_IMS = False


async def test_it_refuses_what_json_cannot_say_and_numbers_past_any_column():
    _, jane, desk = await _open_conversation()
    assert await _refused(jane, '{"type": "chat.read", "up_to": Infinity}') == "Infinity is not JSON"
    assert await _refused(jane, '{"type": "chat.read", "up_to": NaN}') == "NaN is not JSON"
    assert await _refused(jane, '{"type": "chat.read", "up_to": 1e999}') == "1e999 is out of range"
    digits = "9" * 4301
    assert await _refused(jane, f'{{"type": "chat.read", "up_to": {digits}}}') == "numbers have at most 20 digits"
    assert await _refused(jane, json.dumps({"type": "chat.read", "up_to": 2**40})) == (
        "up_to: Ensure this value is less than or equal to 2147483647."
    )
    deep = '{"type": "chat.typing", "x": ' + "[" * 50 + "]" * 50 + "}"
    assert await _refused(jane, deep) == "the frame nests deeper than 8 levels"
    assert await _refused(jane, "[" * 60_000) == "the frame is not JSON"
    await jane.send_to(text_data=json.dumps({"type": "chat.read", "up_to": 3, "ref": "r1"}))
    await jane.send_to(text_data=json.dumps({"type": "chat.resume", "after": 0, "ref": "r2"}))
    assert (await _next(jane, "chat.resumed"))["ref"] == "r2"  # the same socket, still serving
    for socket in (jane, desk):
        await socket.disconnect()


async def test_it_refuses_ids_past_a_bigint_and_a_missing_request_on_the_desk():
    request_id, jane, desk = await _open_conversation()
    frame = {"type": "help.accept", "request": 2**64, "ref": 1}
    assert await _refused(desk, json.dumps(frame)) == (
        "request: Ensure this value is less than or equal to 9223372036854775807."
    )
    assert await _refused(desk, json.dumps({**frame, "request": 2**70})) == "numbers have at most 20 digits"
    assert await _refused(desk, json.dumps({"type": "help.decline", "request": 2**40})) == "no such request"
    frame = {"type": "chat.send", "client_id": "a1", "body": "Which line?"}
    assert await _refused(desk, json.dumps(frame)) == "request: This field is required."
    assert await _refused(desk, json.dumps({**frame, "request": "1; drop"})) == "request: A valid integer is required."
    assert await _refused(desk, json.dumps({**frame, "request": request_id, "ref": 2**64})) == (
        "ref: a string of up to 64 characters, an integer or null"
    )
    await desk.send_to(text_data=json.dumps({**frame, "request": request_id}))
    assert (await _next(jane, "chat.message"))["message"]["body"] == "Which line?"
    for socket in (jane, desk):
        await socket.disconnect()


async def test_it_posts_only_strings_as_chat_messages():
    _, jane, desk = await _open_conversation()
    for body, problem in [
        (None, "body: This field may not be null."),
        (["a", 1], "body: Not a valid string."),
        (3.5, "body: Not a valid string."),
        ({"text": "hi"}, "body: Not a valid string."),
        ("a\x00b", "body: Null characters are not allowed."),
        ("\ud800", "body: Surrogate characters are not allowed: U+D800."),
        ("x" * (MAX_CHARS + 1), f"body: Ensure this field has no more than {MAX_CHARS} characters."),
    ]:
        frame = json.dumps({"type": "chat.send", "client_id": "j1", "body": body, "ref": 5})
        assert await _refused(jane, frame) == problem
    await jane.send_to(text_data=json.dumps({"type": "chat.send", "client_id": "j1", "body": "3.5"}))
    assert (await _next(desk, "chat.message"))["message"]["body"] == "3.5"
    assert await _bodies() == ["3.5"]
    for socket in (jane, desk):
        await socket.disconnect()


async def test_it_keeps_other_guests_messages_when_one_sends_a_nul():
    """Three conversations posting at once share the group commit; one guest's NUL is refused to
    that guest alone, and every socket stays open."""
    queue = await sync_to_async(make_queue)()
    conversations = [await _open_conversation(queue, advisor) for advisor in ("alex", "bea", "cleo")]
    frames = [
        {"type": "chat.send", "client_id": "n1", "body": f"Line {n} of my return", "ref": n}
        for n in range(len(conversations))
    ]
    frames[1]["body"] = "bad\x00row"
    await asyncio.gather(
        *(jane.send_to(text_data=json.dumps(frame)) for (_, jane, _), frame in zip(conversations, frames, strict=True))
    )
    for n, (_, jane, desk) in enumerate(conversations):
        if n == 1:
            assert (await _next(jane, "error"))["ref"] == 1
        else:
            assert (await _next(desk, "chat.message"))["message"]["body"] == f"Line {n} of my return"
    assert await _bodies() == ["Line 0 of my return", "Line 2 of my return"]
    for _, jane, desk in conversations:
        await jane.send_to(text_data=json.dumps({"type": "chat.resume", "after": 0}))
        assert (await _next(jane, "chat.resumed"))["type"] == "chat.resumed"  # open, each of them
        await jane.disconnect()
        await desk.disconnect()


async def test_it_names_the_problem_on_mary_s_socket_and_keeps_it_open():
    mary = await sync_to_async(make_user)("mary")
    socket = communicator("/ws/client/", user=mary)
    assert (await socket.connect())[0]
    assert await _refused(socket, json.dumps({"type": "message.send", "to": 5, "body": "hi"})) == (
        "to: Not a valid string."
    )
    assert await _refused(socket, json.dumps({"type": "message.send", "to": "sip:a@b.example"})) == (
        "body: This field is required."
    )
    assert await _refused(socket, json.dumps({"type": "call.answer", "sdp": "v=0"})) == "call: This field is required."
    assert await _refused(socket, json.dumps({"type": "x" * 10_000})) == f"unknown event type '{'x' * 76}..."
    frame = {"type": "message.send", "to": "sip:a@b.example", "body": "hi", "ref": 8}
    assert await _refused(socket, json.dumps(frame)) == "you have no IMS identity yet"  # past the schema
    await socket.disconnect()


async def test_it_drops_frames_past_the_rate_with_an_error_and_stays_open(settings):
    settings.WS_FRAMES_PER_SECOND, settings.WS_FRAME_BURST = 5, 10
    mary = await sync_to_async(make_user)("mary")
    socket = communicator("/ws/client/", user=mary)
    assert (await socket.connect())[0]
    for n in range(30):
        await socket.send_to(text_data=json.dumps({"type": "call.teleport", "ref": n}))
    answers = [await _next(socket) for _ in range(30)]
    over = [a for a in answers if a["reason"].startswith("more than 5 frames a second")]
    assert len(answers) - len(over) in range(10, 13)  # the burst, and what a second refilled meanwhile
    assert len(over) >= 18
    await asyncio.sleep(1.0)
    await socket.send_to(text_data=json.dumps({"type": "call.teleport", "ref": "later"}))
    assert await _next(socket) == {"type": "error", "reason": "unknown event type 'call.teleport'", "ref": "later"}
    await socket.disconnect()
