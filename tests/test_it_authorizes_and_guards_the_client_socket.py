"""/ws/client/: only a logged-in user or a guest of the help page gets in; bad frames get an error
event and the socket stays open."""

import json

import pytest

from identity_blocks.holders import Holder
from identity_blocks.models import HolderSession
from tests.factories import make_block, make_user
from tests.support.sockets import communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


def _socket(user=None, session=None):
    return communicator("/ws/client/", user, session)


async def _json(communicator):
    return json.loads(await communicator.receive_from(timeout=5))


async def test_it_refuses_a_stranger_before_accepting():
    connected, code = await _socket().connect()
    assert not connected
    assert code == 4401


async def test_it_refuses_a_forged_guest_key():
    connected, _ = await _socket(session={"guest_key": "<script>"}).connect()
    assert not connected


async def test_it_answers_bad_frames_with_errors_and_stays_open():
    from asgiref.sync import sync_to_async

    mary = await sync_to_async(make_user)("mary")
    socket = _socket(user=mary)
    assert (await socket.connect())[0]
    await socket.send_to(text_data="{not json")
    assert (await _json(socket))["reason"] == "the frame is not JSON"
    await socket.send_to(text_data="[1, 2]")
    assert (await _json(socket))["reason"] == "the frame is not a JSON object"
    await socket.send_to(bytes_data=b"\x00")
    assert (await _json(socket))["reason"] == "frames are JSON text up to 64 KiB"
    await socket.send_to(text_data=json.dumps({"type": "call.teleport", "ref": 7}))
    assert await _json(socket) == {"type": "error", "reason": "unknown event type 'call.teleport'", "ref": 7}
    await socket.send_to(
        text_data=json.dumps({"type": "message.send", "to": "sip:x@y.example", "body": "hi", "ref": 8})
    )
    assert await _json(socket) == {"type": "error", "reason": "you have no IMS identity yet", "ref": 8}
    await socket.disconnect()


async def test_it_records_open_sessions_and_tells_the_current_identity():
    from asgiref.sync import sync_to_async

    from identity_blocks import actions

    await sync_to_async(make_block)(5)
    key = Holder.new_guest_key()
    assignment = await sync_to_async(actions.assign_identity)(Holder.guest(key))
    socket = _socket(session={"guest_key": key})
    assert (await socket.connect())[0]
    hello = await _json(socket)
    assert (hello["type"], hello["impu"], hello["state"]) == ("identity.changed", assignment.impu, "unregistered")
    assert await sync_to_async(HolderSession.objects.filter(guest_key=key).count)() == 1
    await socket.disconnect()
    assert await sync_to_async(HolderSession.objects.count)() == 0


async def test_it_passes_call_events_to_the_browser_and_its_answers_to_the_ims_side():
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from identity_blocks.events import IMS_GROUP

    mary = await sync_to_async(make_user)("mary")
    socket = _socket(user=mary)
    assert (await socket.connect())[0]
    layer = get_channel_layer()
    ims_side = await layer.new_channel()
    await layer.group_add(IMS_GROUP, ims_side)
    ringing = {"type": "ims.call", "call": "c1", "state": "ringing", "from": "sip:phone@ims.test", "sdp": "v=0"}
    await layer.group_send(Holder.member(mary).group, ringing)
    assert await _json(socket) == ringing
    await socket.send_to(text_data=json.dumps({"type": "call.answer", "call": "c1", "sdp": "v=0 answer"}))
    control = await layer.receive(ims_side)
    assert control == {
        "type": "ims.call.control",
        "call": "c1",
        "action": "answer",
        "holder": Holder.member(mary).group,  # who asked, as the server knows it: not from the frame
        "sdp": "v=0 answer",
    }
    await socket.disconnect()
