"""An advisor takes requests only while a desk of theirs is open, and is set offline when it
stays closed past HELP_DESK_GRACE_SECONDS; a request rings only while the customer's help page
is open, and is withdrawn when it stays closed past HELP_CUSTOMER_GRACE_SECONDS; in a
conversation, the advisor is told the customer left. Driven through the real sockets."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from help_desk import actions, presence, routing_actions
from help_desk.models import Advisor, HelpRequest, RequestStatus
from identity_blocks import actions as identity_actions
from identity_blocks.holders import Holder
from identity_blocks.models import HolderSession
from tests.factories import make_advisor, make_queue
from tests.support.sockets import communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


async def _open(path, **scope):
    socket = communicator(path, **scope)
    assert (await socket.connect())[0]
    return socket


async def _until(socket, kind, **fields):
    """The first event of this type (with these fields) the socket receives."""
    for _ in range(50):
        event = json.loads(await socket.receive_from(timeout=5))
        if event["type"] == kind and all(event.get(k) == v for k, v in fields.items()):
            return event
    raise AssertionError(f"no {kind} event")


def _setup(presence="available"):
    queue = make_queue()
    alex = make_advisor("alex", queue, presence=presence)
    key = Holder.new_guest_key()
    return queue, alex, key


def _ask(queue, key):
    return actions.request_help(Holder.guest(key), queue, "chat", False).pk


def _status(request_id):
    return HelpRequest.objects.values_list("status", "ringing_advisor_id").get(pk=request_id)


async def _desk(alex):
    return await _open("/ws/desk/", user=await sync_to_async(lambda: alex.user)())


async def test_it_rings_an_advisor_only_while_a_desk_of_theirs_is_open(settings):
    settings.HELP_DESK_GRACE_SECONDS = 60
    queue, alex, key = await sync_to_async(_setup)()
    desk = await _desk(alex)
    await desk.disconnect()  # a reload, say: still on duty, but nothing rings meanwhile
    request_id = await sync_to_async(_ask)(queue, key)
    await sync_to_async(presence.sweep)()
    assert await sync_to_async(actions.on_duty)(queue)
    assert await sync_to_async(_status)(request_id) == (RequestStatus.WAITING, None)
    desk = await _desk(alex)
    ringing = (await _until(desk, "desk.state"))["ringing"] or [(await _until(desk, "help.ringing"))["request"]]
    assert [r["id"] for r in ringing] == [request_id]
    await desk.disconnect()
    assert await sync_to_async(_status)(request_id) == (RequestStatus.WAITING, None)  # withdrawn with the desk


async def test_it_sets_an_advisor_offline_whose_desk_stays_closed(settings):
    settings.HELP_DESK_GRACE_SECONDS = 0
    queue, alex, _ = await sync_to_async(_setup)()
    desk = await _desk(alex)
    await desk.disconnect()
    await sync_to_async(presence.sweep)()
    assert (await Advisor.objects.aget(pk=alex.pk)).presence == "offline"
    assert not await sync_to_async(actions.on_duty)(queue)


async def test_it_sets_an_advisor_on_duty_without_any_desk_offline(settings):
    settings.HELP_DESK_GRACE_SECONDS = 0
    _, alex, _ = await sync_to_async(_setup)()  # set available in the admin, say
    await sync_to_async(presence.sweep)()  # the grace starts
    await sync_to_async(presence.sweep)()
    assert (await Advisor.objects.aget(pk=alex.pk)).presence == "offline"


async def test_it_closes_the_desk_of_a_process_that_died(settings):
    settings.HELP_DESK_GRACE_SECONDS = 0
    _, alex, _ = await sync_to_async(_setup)()
    desk = await _desk(alex)
    await _until(desk, "desk.state")
    # Its process stopped vouching for its sessions (identity_blocks.sessions), then the sweeps ran.
    await HolderSession.objects.aupdate(seen_at=timezone.now() - timedelta(hours=1))
    await sync_to_async(identity_actions.expire_stale_sessions)()
    await sync_to_async(presence.sweep)()
    await sync_to_async(presence.sweep)()
    assert (await Advisor.objects.aget(pk=alex.pk)).presence == "offline"
    told = await _until(desk, "help.presence")
    assert told["reason"] == "Your desk was closed, so you are now offline."
    await desk.disconnect()


async def test_it_tells_the_desk_it_set_the_advisor_away_after_missed_rings(settings):
    settings.HELP_MISSED_RINGS_AWAY, settings.HELP_RING_COOLDOWN_SECONDS = 1, 0
    queue, alex, key = await sync_to_async(_setup)()
    desk = await _desk(alex)
    request_id = await sync_to_async(_ask)(queue, key)
    await _until(desk, "help.ringing")
    await HelpRequest.objects.filter(pk=request_id).aupdate(ring_until=timezone.now() - timedelta(seconds=1))
    await sync_to_async(actions.expire_rings)()
    assert (await _until(desk, "help.ring_over"))["reason"] == "missed"
    told = await _until(desk, "help.presence")
    assert (told["presence"], told["reason"]) == ("away", "You missed a request, so you are now away.")
    await desk.disconnect()


async def test_it_never_rings_for_a_closed_help_page(settings):
    settings.HELP_CUSTOMER_GRACE_SECONDS = 60
    queue, alex, key = await sync_to_async(_setup)()
    desk = await _desk(alex)
    request_id = await sync_to_async(_ask)(queue, key)
    jane = await _open(f"/ws/help/{request_id}/", session={"guest_key": key})
    await _until(desk, "help.ringing")
    await jane.disconnect()
    assert (await _until(desk, "help.ring_over"))["reason"] == "left"
    await sync_to_async(presence.sweep)()
    await sync_to_async(routing_actions.route_queue)(queue.pk)
    assert await sync_to_async(_status)(request_id) == (RequestStatus.WAITING, None)
    line = (await _until(desk, "help.line"))["line"]
    assert [(r["id"], r["here"]) for r in line] == [(request_id, False)]
    jane = await _open(f"/ws/help/{request_id}/", session={"guest_key": key})  # back within the grace
    assert (await _until(desk, "help.ringing"))["request"]["id"] == request_id
    await jane.disconnect()
    settings.HELP_CUSTOMER_GRACE_SECONDS = 0
    await sync_to_async(presence.sweep)()
    assert await sync_to_async(_status)(request_id) == (RequestStatus.ABANDONED, None)
    with pytest.raises(actions.NotYours, match=r"The customer left\."):
        await sync_to_async(actions.accept_request)(alex, request_id)
    await desk.disconnect()


async def test_it_withdraws_a_request_whose_page_never_opened(settings):
    settings.HELP_CUSTOMER_GRACE_SECONDS = 0
    queue, _, key = await sync_to_async(_setup)("busy")
    request_id = await sync_to_async(_ask)(queue, key)
    await sync_to_async(presence.sweep)()
    assert (await sync_to_async(_status)(request_id))[0] == RequestStatus.ABANDONED


async def test_it_tells_the_advisor_the_customer_left_the_conversation(settings):
    settings.HELP_CUSTOMER_GRACE_SECONDS = 0
    queue, alex, key = await sync_to_async(_setup)()
    request_id = await sync_to_async(_ask)(queue, key)
    jane = await _open(f"/ws/help/{request_id}/", session={"guest_key": key})
    await sync_to_async(actions.accept_request)(alex, request_id)
    desk = await _desk(alex)
    await _until(desk, "desk.state")
    await jane.disconnect()
    await sync_to_async(presence.sweep)()
    left = await _until(desk, "help.request")
    assert (left["request"]["status"], left["request"]["customer_left"]) == ("active", True)
    jane = await _open(f"/ws/help/{request_id}/", session={"guest_key": key})
    back = await _until(desk, "help.request")
    assert back["request"]["customer_left"] is False
    await jane.disconnect()
    await desk.disconnect()
