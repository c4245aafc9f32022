"""What the server says over a socket is in the language the browser asked for when it opened the
socket (its language cookie, else Accept-Language), as a page would be: a frame it cannot use, a
schema's complaint, a refusal of the service agreement or of the destination policy. What one
part of the portal says to many sockets (the desk told the advisor is away now) reaches each in
its own language; the codes the browser acts on stay as they are."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.utils import timezone

from help_desk import actions, routing_actions
from help_desk.models import HelpRequest
from identity_blocks import actions as identity_actions
from identity_blocks.holders import Holder
from ims.models import RefusedAttempt
from tests.factories import make_advisor, make_agreement, make_block, make_conversation, make_queue, make_user
from tests.support.sockets import communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
GERMAN = "de-DE,de;q=0.9,en;q=0.5"


async def _open(path, **scope):
    socket = communicator(path, **scope)
    assert (await socket.connect())[0]
    return socket


async def _until(socket, kind):
    for _ in range(50):
        event = json.loads(await socket.receive_from(timeout=5))
        if event["type"] == kind:
            return event
    raise AssertionError(f"no {kind} event")


async def _said(socket, frame, kind="error"):
    await socket.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))
    return await _until(socket, kind)


async def _advisor_s(user, language=None, cookies=None):
    desk = await _open("/ws/desk/", user=user, language=language, cookies=cookies)
    await _until(desk, "desk.state")
    return desk


async def test_it_refuses_a_german_browser_s_frames_in_german_and_an_english_one_s_in_english():
    alex = await sync_to_async(make_advisor)("alex", await sync_to_async(make_queue)())
    user = await sync_to_async(lambda: alex.user)()
    german, english = await _advisor_s(user, GERMAN), await _advisor_s(user, "fr-FR,fr;q=0.9")  # no French
    assert (await _said(german, "[1]"))["reason"] == "Der Frame ist kein JSON-Objekt."
    assert (await _said(english, "[1]"))["reason"] == "the frame is not a JSON object"
    unknown = await _said(german, {"type": "help.fly", "ref": 7})
    assert (unknown["reason"], unknown["ref"]) == ("Unbekannter Ereignistyp 'help.fly'", 7)
    wrong = {"type": "presence.set", "presence": "asleep"}
    assert (await _said(german, wrong))["reason"] == "presence: verfügbar, beschäftigt, abwesend oder offline"
    missing = await _said(german, {"type": "help.accept"})  # Django REST framework's own German
    assert missing["reason"] == "request: Dieses Feld ist zwingend erforderlich."
    assert (await _said(german, {"type": "help.accept", "request": 999}))["reason"] == "Diese Anfrage gibt es nicht."
    assert (await _said(english, {"type": "help.accept", "request": 999}))["reason"] == "no such request"
    await german.disconnect()
    await english.disconnect()


async def test_the_language_cookie_outweighs_accept_language_as_on_a_page():
    alex = await sync_to_async(make_advisor)("alex", await sync_to_async(make_queue)())
    user = await sync_to_async(lambda: alex.user)()
    desk = await _advisor_s(user, language="en-US,en", cookies={"django_language": "de"})
    assert (await _said(desk, "{"))["reason"] == "Der Frame ist kein JSON."
    await desk.disconnect()


async def test_it_refuses_jane_a_call_the_service_leaves_out_in_german():
    queue = await sync_to_async(make_queue)(allows_voice=False)
    request, jane, _ = await sync_to_async(make_conversation)(queue)
    page = await _open(f"/ws/help/{request.pk}/", session={"guest_key": jane.guest_key}, language=GERMAN)
    refused = await _said(page, {"type": "call.start", "sdp": "v=0", "ref": "c"}, "call.refused")
    assert (refused["ref"], refused["reason"]) == ("c", "Anrufe gehören nicht zu diesem Dienst.")
    await page.disconnect()


async def test_it_tells_mary_what_her_agreement_refuses_in_german_and_records_it_in_english():
    await sync_to_async(cache.clear)()
    agreement = await sync_to_async(make_agreement)(reachable_prefixes="+4930")
    await sync_to_async(make_block)(5, agreement=agreement)
    mary = await sync_to_async(make_user)("mary")
    await sync_to_async(identity_actions.assign_identity)(Holder.member(mary))
    socket = await _open("/ws/client/", user=mary, language=GERMAN)
    refused = await _said(socket, {"type": "message.send", "to": "sip:x@premium.example", "body": "hi", "ref": 2})
    expected = "Die Vereinbarung erlaubt keine Anrufe oder Nachrichten an die Domain premium.example."
    assert (refused["ref"], refused["reason"]) == (2, expected)
    await socket.disconnect()
    recorded = await sync_to_async(lambda: RefusedAttempt.objects.get().reason)()
    assert recorded == "the agreement does not allow calls or messages to the domain premium.example"


async def test_each_desk_hears_why_the_advisor_is_away_in_its_own_language(settings):
    """One event for all of the advisor's desks, each socket saying it in its own language."""
    settings.HELP_MISSED_RINGS_AWAY, settings.HELP_RING_COOLDOWN_SECONDS = 1, 0
    queue = await sync_to_async(make_queue)()
    alex = await sync_to_async(make_advisor)("alex", queue, presence="available")
    user = await sync_to_async(lambda: alex.user)()
    german, english = await _advisor_s(user, GERMAN), await _advisor_s(user)
    guest = Holder.guest(Holder.new_guest_key())
    request = await sync_to_async(actions.request_help)(guest, queue, "chat", False)
    await _until(german, "help.ringing")
    await HelpRequest.objects.filter(pk=request.pk).aupdate(ring_until=timezone.now() - timedelta(seconds=1))
    await sync_to_async(routing_actions.expire_rings)()
    assert (await _until(german, "help.ring_over"))["reason"] == "missed"  # a code, for desk.js
    told = await _until(german, "help.presence")
    assert (told["presence"], told["reason"]) == (
        "away",
        "Sie haben eine Anfrage verpasst, daher sind Sie jetzt abwesend.",
    )
    told = await _until(english, "help.presence")
    assert (told["presence"], told["reason"]) == ("away", "You missed a request, so you are now away.")
    await german.disconnect()
    await english.disconnect()


async def test_a_call_the_ims_side_ends_keeps_its_code_and_says_why_in_german():
    """The IMS side words an ending in English (it goes in a SIP Warning too); Mary's German
    socket adds it in German, beside the reason her browser acts on."""
    await sync_to_async(make_block)(5)
    mary = await sync_to_async(make_user)("mary")
    holder = Holder.member(mary)
    await sync_to_async(identity_actions.assign_identity)(holder)
    socket = await _open("/ws/client/", user=mary, language=GERMAN)
    reason = "this call needs its media converted, and no media gateway is configured"
    ended = {"type": "ims.call", "call": "k1", "state": "ended", "direction": "out", "reason": reason}
    await get_channel_layer().group_send(holder.group, ended)
    told = await _until(socket, "ims.call")
    assert told["reason"] == reason
    assert told["says"] == (
        "Die Medien dieses Anrufs müssten umgewandelt werden, und es ist kein Medien-Gateway eingerichtet."
    )
    await socket.disconnect()
