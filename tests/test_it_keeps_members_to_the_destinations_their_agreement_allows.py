"""Toll fraud: a leased identity reaches on-net addresses and what its agreement lists, a guest of
the help desk reaches nobody from the communications socket, and a member starts only so many
messages and calls a minute. Each refusal is said to the sender and recorded for the admin; the
legitimate path beside it still goes."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from identity_blocks import actions
from identity_blocks.destinations import refusal
from identity_blocks.holders import Holder
from ims.models import PagerMessage, RefusedAttempt
from tests.factories import make_agreement, make_block, make_user
from tests.support.sockets import communicator

HOME = "ims.example.net"


@pytest.mark.parametrize(
    ("to", "allowed"),
    [
        ("sip:alex@ims.example.net", True),
        ("sip:help-0000001@help.ims.example.net", True),  # a subdomain of the home domain
        ("sip:alex@IMS.example.net:5070;transport=tcp", True),
        ("sip:ceo@partner.example", True),  # listed
        ("sip:desk@eu.partner.example", True),  # a subdomain of a listed one
        ("sip:x@notpartner.example", False),
        ("sip:x@ims.example.net.evil.example", False),
        ("tel:+4930123456", True),
        ("tel:+49-30-123", True),
        ("tel:+19005550100", False),
        ("sip:+19005550100@ims.example.net;user=phone", False),  # a number, though on-net
        ("sip:+4930123@ims.example.net;user=phone", True),
    ],
)
def test_it_reaches_on_net_and_what_the_agreement_lists(to, allowed):
    assert (refusal(to, HOME, "partner.example", "+4930, +4940") is None) is allowed


def test_it_names_what_it_refuses():
    assert refusal("tel:+19005550100", HOME, "", "") == "the agreement does not allow calls or messages to +19005550100"
    assert refusal("sip:x@else.example", HOME, "", "+1") == (
        "the agreement does not allow calls or messages to the domain else.example"
    )


@pytest.mark.django_db
def test_it_refuses_a_list_that_is_not_domains_or_prefixes(admin_client):
    agreement = make_agreement()
    url = f"/api/agreements/{agreement.pk}"
    answer = admin_client.patch(url, {"reachable_prefixes": "+49, 0800"}, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json() == {"reachable_prefixes": ["Not an E.164 prefix (+ and digits): 0800."]}
    answer = admin_client.patch(url, {"reachable_domains": "a..b"}, content_type="application/json")
    assert answer.status_code == 400
    answer = admin_client.patch(url, {"reachable_domains": "Partner.example eu.partner.example"}, "application/json")
    assert answer.status_code == 200


def _socket(user=None, session=None):
    return communicator("/ws/client/", user, session)


async def _answer(socket, frame):
    """The socket's answer to the frame, past the identity state it may also tell."""
    await socket.send_to(text_data=json.dumps(frame))
    while True:
        event = json.loads(await socket.receive_from(timeout=5))
        if event["type"] not in {"identity.changed", "ice.servers", "ims.message"}:
            return event


def _attempts() -> list[tuple[str, str]]:
    return list(RefusedAttempt.objects.order_by("at").values_list("kind", "destination"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_sync_thread_connections")
async def test_it_refuses_toll_destinations_to_mary_and_records_them():
    await sync_to_async(cache.clear)()
    agreement = await sync_to_async(make_agreement)(reachable_prefixes="+4930")
    await sync_to_async(make_block)(5, agreement=agreement)
    mary = await sync_to_async(make_user)("mary")
    await sync_to_async(actions.assign_identity)(Holder.member(mary))
    socket = _socket(user=mary)
    assert (await socket.connect())[0]

    refused = await _answer(socket, {"type": "call.start", "to": "tel:+19005550100", "sdp": "v=0", "ref": 1})
    assert refused == {
        "type": "error",
        "ref": 1,
        "reason": "the agreement does not allow calls or messages to +19005550100",
    }
    refused = await _answer(socket, {"type": "message.send", "to": "sip:x@premium.example", "body": "hi", "ref": 2})
    assert refused["reason"] == "the agreement does not allow calls or messages to the domain premium.example"
    assert (await _answer(socket, {"type": "call.start", "to": "tel:+4930123", "sdp": "v=0", "ref": 3}))["type"] == (
        "call.placed"
    )
    sent = await _answer(socket, {"type": "message.send", "to": f"sip:alex@{HOME}", "body": "hi", "ref": 4})
    assert sent["type"] == "message.queued"
    await socket.disconnect()

    attempts = await sync_to_async(_attempts)()
    assert attempts == [("call", "tel:+19005550100"), ("message", "sip:x@premium.example")]
    assert await sync_to_async(PagerMessage.objects.filter(remote_uri__contains="premium").exists)() is False


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_sync_thread_connections")
async def test_it_keeps_a_guest_to_the_help_desk():
    await sync_to_async(make_block)(5)
    key = Holder.new_guest_key()
    await sync_to_async(actions.assign_identity)(Holder.guest(key))
    socket = _socket(session={"guest_key": key})
    assert (await socket.connect())[0]
    for kind, frame in [("call", {"sdp": "v=0"}), ("message", {"body": "hi"})]:
        event = {"type": f"{kind}.start" if kind == "call" else "message.send", "to": f"sip:alex@{HOME}", **frame}
        refused = await _answer(socket, event)
        assert refused["reason"] == "a guest of the help desk reaches only the advisor, in the conversation"
    await socket.disconnect()
    assert await sync_to_async(RefusedAttempt.objects.count)() == 2


@pytest.mark.django_db
def test_it_limits_each_identity_s_messages_a_minute(settings, admin_client):
    from ims import actions as ims_actions

    cache.clear()
    settings.IMS_MESSAGES_PER_MINUTE = 3
    make_block(5)
    mary, bob = Holder.member(make_user("mary")), Holder.member(make_user("bob"))
    for holder in (mary, bob):
        actions.assign_identity(holder)
    for _ in range(3):
        ims_actions.start_allowed(mary, f"sip:alex@{HOME}", "message")
    with pytest.raises(ims_actions.MessageRefused, match="more than 3 messages a minute from this identity"):
        ims_actions.start_allowed(mary, f"sip:alex@{HOME}", "message")
    ims_actions.start_allowed(bob, f"sip:alex@{HOME}", "message")  # another identity's own count
    ims_actions.start_allowed(mary, f"sip:alex@{HOME}", "call")  # calls are counted apart

    page = admin_client.get("/admin/ims/refusedattempt/")
    assert page.status_code == 200
    assert "more than 3 messages a minute from this identity" in page.content.decode()
