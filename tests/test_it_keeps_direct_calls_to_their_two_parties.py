"""A call between two colleagues goes browser to browser with the portal relaying its signalling
over the sockets (ims.direct_calls), never to the IMS side; only its two sides act on it, each only
as its side may; every window of the callee rings and an answer in one stops the others. A call to
anyone else still goes to the IMS side. The record says the path: direct."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from help_desk.routing import websocket_urlpatterns
from identity_blocks import actions, directory
from identity_blocks.events import IMS_GROUP
from identity_blocks.holders import Holder
from ims.models import CallRecord
from tests.factories import make_agreement, make_block, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


def _people():
    """Mary and Alex share an agreement; the outsider holds an identity of another; the admin none."""
    block = make_block(5)
    other = make_block(5, agreement=make_agreement(), pattern="sip:other-{n:03d}@help.ims.example.net")
    people = {name: make_user(name) for name in ("mary", "alex", "outsider")}
    people["alex"].first_name, people["alex"].last_name = "Alex", "Weber"
    people["alex"].save()
    make_user("admin", staff=True)
    for name, blocks in (("mary", [block]), ("alex", [block]), ("outsider", [other])):
        assigned = actions.assign_identity(Holder.member(people[name]), blocks=blocks)
        people[name].impu = assigned.impu  # type: ignore[attr-defined]
    return people


async def _socket(user):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/client/")
    communicator.scope["user"], communicator.scope["session"] = user, {}
    assert (await communicator.connect())[0]
    assert (await _next(communicator, "identity.changed"))["impu"] == user.impu
    return communicator


async def _next(socket, kind, state=None):
    while True:
        event = json.loads(await socket.receive_from(timeout=5))
        if event["type"] == kind and (state is None or event.get("state") == state):
            return event


async def _send(socket, **frame):
    await socket.send_to(text_data=json.dumps(frame))


async def test_it_offers_colleagues_by_name_and_nobody_else():
    people = await sync_to_async(_people)()
    found = await sync_to_async(directory.search)(Holder.member(people["mary"]), "", 20)
    assert [(c.name, c.impu) for c in found] == [("Alex Weber", people["alex"].impu)]
    assert await sync_to_async(directory.search)(Holder.member(people["outsider"]), "", 20) == []


async def test_it_relays_a_colleague_s_call_between_their_browsers_only():
    people = await sync_to_async(_people)()
    layer = get_channel_layer()
    ims_side = await layer.new_channel()
    await layer.group_add(IMS_GROUP, ims_side)
    mary, outsider = await _socket(people["mary"]), await _socket(people["outsider"])
    alex_windows = [await _socket(people["alex"]), await _socket(people["alex"])]

    await _send(mary, type="call.start", to=people["alex"].impu.upper(), sdp="v=0 offer", ref=1)
    placed = await _next(mary, "call.placed")
    key = placed["call"]
    assert placed["media"] == "direct"
    assert (await _next(mary, "ims.call"))["state"] == "ringing"
    for window in alex_windows:  # every window of his rings, with Mary's own offer
        ringing = await _next(window, "ims.call")
        assert (ringing["state"], ringing["direction"], ringing["sdp"]) == ("ringing", "in", "v=0 offer")
        assert (ringing["caller"], ringing["media"]) == (people["mary"].impu, "direct")

    await _send(outsider, type="call.answer", call=key, sdp="v=0 hijack", ref=2)
    assert (await _next(outsider, "error"))["reason"] == "no such call of yours"
    await _send(mary, type="call.answer", call=key, sdp="v=0 self", ref=3)
    assert (await _next(mary, "error"))["reason"] == "this call is not ringing for you"

    await _send(alex_windows[0], type="call.answer", call=key, sdp="v=0 answer")
    connected = await _next(mary, "ims.call", "connected")
    assert (connected["sdp"], connected["media"]) == ("v=0 answer", "direct")
    for window in alex_windows:  # the other window stops ringing
        assert (await _next(window, "ims.call"))["state"] == "answered"
    await _send(alex_windows[1], type="call.answer", call=key, sdp="v=0 late", ref=4)
    assert (await _next(alex_windows[1], "error"))["reason"] == "this call is not ringing for you"

    await _send(mary, type="call.update", call=key, sdp="v=0 hold")
    assert (await _next(alex_windows[0], "ims.call", "update"))["sdp"] == "v=0 hold"
    await _send(alex_windows[0], type="call.update", call=key, sdp="v=0 crossing")  # both offer at once
    refused = await _next(alex_windows[0], "ims.call", "update_failed")
    assert (refused["status"], refused["reason"]) == (491, "Request Pending")
    await _send(alex_windows[0], type="call.update_answer", call=key, sdp="v=0 held")
    assert (await _next(mary, "ims.call", "updated"))["sdp"] == "v=0 held"
    await _send(outsider, type="call.hangup", call=key, ref=5)
    assert (await _next(outsider, "error"))["reason"] == "no such call of yours"

    await _send(mary, type="call.hangup", call=key)
    assert (await _next(alex_windows[0], "ims.call", "ended"))["reason"] == "the other side hung up"
    assert (await _next(mary, "ims.call", "ended"))["reason"] == "hung up"
    record = await sync_to_async(CallRecord.objects.select_related("callee").get)(key=key)
    assert record.callee is not None
    assert (record.media, record.callee.impu, record.remote_uri) == ("direct", people["alex"].impu, people["alex"].impu)
    assert record.answered_at is not None
    assert record.ended_at is not None
    assert await sync_to_async(CallRecord.objects.count)() == 1

    # Nothing of it reached the IMS side; a call to someone who is no colleague does.
    await _send(mary, type="call.start", to=people["outsider"].impu, sdp="v=0 offer")
    control = await layer.receive(ims_side)
    assert (control["action"], control["to"]) == ("start", people["outsider"].impu)
    for socket in (mary, outsider, *alex_windows):
        await socket.disconnect()


async def test_it_ends_a_call_to_a_colleague_with_no_window_open_and_one_whose_caller_left():
    people = await sync_to_async(_people)()
    mary = await _socket(people["mary"])
    await _send(mary, type="call.start", to=people["alex"].impu, sdp="v=0 offer")
    assert (await _next(mary, "ims.call", "ended"))["reason"] == "480 Temporarily Unavailable"

    alex = await _socket(people["alex"])
    await _send(mary, type="call.start", to=people["alex"].impu, sdp="v=0 offer")
    key = (await _next(mary, "call.placed"))["call"]
    await _next(alex, "ims.call", "ringing")
    await mary.disconnect()  # her window closed while it rang
    assert (await _next(alex, "ims.call", "ended"))["reason"] == "cancelled by the caller"
    assert (await sync_to_async(CallRecord.objects.get)(key=key)).end_reason == "cancelled"
    await alex.disconnect()


async def test_it_tells_a_caller_a_colleague_in_a_call_is_busy():
    people = await sync_to_async(_people)()
    mary, alex = await _socket(people["mary"]), await _socket(people["alex"])
    await _send(alex, type="call.start", to=people["mary"].impu, sdp="v=0 offer")
    key = (await _next(alex, "call.placed"))["call"]
    await _next(mary, "ims.call", "ringing")
    await _send(mary, type="call.answer", call=key, sdp="v=0 answer")
    await _next(alex, "ims.call", "connected")

    await _send(alex, type="call.start", to=people["mary"].impu, sdp="v=0 again")
    assert (await _next(alex, "ims.call", "ended"))["reason"] == "486 Busy Here"
    await mary.disconnect()
    await alex.disconnect()
