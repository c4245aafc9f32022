"""An advisor hands an open conversation, with its chat, to another advisor on duty with room,
who has it at once, or to another queue of the same agreement, where the customer waits in line
again; the first advisor's desk lets go of it. In the browser Jane reads "You are now talking with
Sam Berg" and the chat goes on with Sam, who sees what was said before."""

from __future__ import annotations

import pytest

from help_desk import actions, chat
from help_desk.models import Advisor, HelpRequest, Queue, RequestStatus, RingPass
from help_desk.routing_actions import route_queue
from identity_blocks.holders import Holder
from tests.factories import make_advisor, make_agreement, make_block, make_conversation, make_operator
from tests.support.axe import violations
from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import advisor_desk, chat_both_ways, jane_asks_for_chat, send

pytestmark_db = pytest.mark.django_db(transaction=True)  # routing runs on commit


def _queue_of_another_agreement() -> Queue:
    agreement = make_agreement(make_operator("other.example.net"), allows_chat=True)
    block = make_block(5, agreement=agreement)
    return Queue.objects.create(name="Elsewhere", slug="elsewhere", agreement=agreement, identity_block=block)


def _alex_s_conversation():
    request, jane, _ = make_conversation()
    return request, jane, Advisor.objects.get(user__username="alex")


@pytestmark_db
def test_it_hands_the_conversation_and_its_chat_to_an_advisor_with_room(settings):
    settings.HELP_CHAT_OVER_IMS = False
    request, jane, alex = _alex_s_conversation()
    chat.post_message(request.pk, jane, "Where is line 5a?", "j1")
    sam = make_advisor("sam", request.queue, presence="busy")  # on duty, taking no new requests
    sam.user.first_name, sam.user.last_name = "Sam", "Berg"
    sam.user.save()
    make_advisor("olga", request.queue, presence="offline")
    assert actions.transfer_options(alex, request.pk) == {
        "advisors": [{"id": sam.pk, "name": "Sam Berg"}],
        "queues": [],
    }
    moved = actions.transfer_conversation(alex, request.pk, to_advisor=sam.pk)
    assert (moved.status, moved.advisor_id) == (RequestStatus.ACTIVE, sam.pk)
    assert moved.advisor_impu
    assert moved.advisor_impu != request.advisor_impu
    sam_holder = Holder.member(sam.user)
    assert [m.body for m in chat.messages_after(request.pk, sam_holder, 0)] == ["Where is line 5a?"]
    assert chat.post_message(request.pk, sam_holder, "On page two.", "s1").seq == 2
    with pytest.raises(actions.NotYours):
        chat.post_message(request.pk, Holder.member(alex.user), "Still here?", "a1")
    with pytest.raises(actions.NotYours):
        actions.transfer_conversation(alex, request.pk, to_advisor=sam.pk)


@pytestmark_db
def test_it_refuses_an_advisor_without_room_off_duty_or_of_another_agreement():
    request, _, alex = _alex_s_conversation()
    full = make_conversation(request.queue, "full")[0].advisor  # capacity 1, taken
    away = make_advisor("away", request.queue, presence="away")
    stranger = make_advisor("stranger", _queue_of_another_agreement(), presence="available")
    assert actions.transfer_options(alex, request.pk)["advisors"] == []
    for target in (full, away, stranger):
        with pytest.raises(actions.HelpRefused, match="cannot take another conversation"):
            actions.transfer_conversation(alex, request.pk, to_advisor=target.pk)
    with pytest.raises(actions.HelpRefused):
        actions.transfer_conversation(alex, request.pk, to_advisor=alex.pk)
    assert HelpRequest.objects.get(pk=request.pk).advisor_id == alex.pk


@pytestmark_db
def test_a_second_hand_over_to_the_same_advisor_finds_no_room():
    request, _, alex = _alex_s_conversation()
    other = make_conversation(request.queue, "bea")[0]
    bea = Advisor.objects.get(user__username="bea")
    sam = make_advisor("sam", request.queue, presence="available", capacity=1)
    actions.transfer_conversation(alex, request.pk, to_advisor=sam.pk)
    with pytest.raises(actions.HelpRefused, match="cannot take another conversation"):
        actions.transfer_conversation(bea, other.pk, to_advisor=sam.pk)


@pytestmark_db
def test_it_puts_her_in_the_line_of_another_queue_of_the_same_agreement():
    request, _, alex = _alex_s_conversation()
    pensions = Queue.objects.create(
        name="Pensions", slug="pensions", agreement=request.queue.agreement, identity_block=request.queue.identity_block
    )
    elsewhere = _queue_of_another_agreement()
    pia = make_advisor("pia", pensions, presence="busy")
    options = actions.transfer_options(alex, request.pk)
    assert options["queues"] == [{"id": pensions.pk, "name": "Pensions"}]
    with pytest.raises(actions.HelpRefused, match="That queue cannot take"):
        actions.transfer_conversation(alex, request.pk, to_queue=elsewhere.pk)
    moved = actions.transfer_conversation(alex, request.pk, to_queue=pensions.pk)
    assert (moved.queue_id, moved.status, moved.advisor_id) == (pensions.pk, RequestStatus.WAITING, None)
    assert RingPass.objects.filter(request=request, advisor=alex).exists()  # not rung straight back
    actions.set_presence(pia, "available")
    route_queue(pensions.pk)
    assert HelpRequest.objects.get(pk=request.pk).ringing_advisor_id == pia.pk
    assert actions.accept_request(pia, request.pk).advisor_id == pia.pk


@pytestmark_db
def test_only_the_advisor_of_an_open_conversation_hands_it_on():
    request, _, alex = _alex_s_conversation()
    sam = make_advisor("sam", request.queue, presence="available")
    with pytest.raises(actions.NotYours):
        actions.transfer_options(sam, request.pk)
    with pytest.raises(actions.NotYours):
        actions.transfer_conversation(sam, request.pk, to_advisor=sam.pk)
    with pytest.raises(actions.HelpRefused, match="one advisor or one queue"):
        actions.transfer_conversation(alex, request.pk)
    actions.close_request(request.pk, advisor=alex)
    with pytest.raises(actions.NotYours):
        actions.transfer_conversation(alex, request.pk, to_advisor=sam.pk)


def test_jane_goes_on_chatting_with_the_advisor_it_was_handed_to(demo_server):
    with chromium() as browser:
        alex = advisor_desk(browser, demo_server)
        sam = advisor_desk(browser, demo_server, login=("sam", "sam-demo"))
        sam.get_by_label("Presence").select_option("busy")  # on duty: Jane's request rings Alex
        jane = jane_asks_for_chat(browser, demo_server)
        chat_both_ways(jane, alex, "transfer-before")
        pane = alex.locator(".conversation").last
        pane.get_by_role("button", name="Transfer").click()
        pane.get_by_label("Transfer to").select_option(label="Sam Berg")
        assert violations(alex) == []  # the chooser open
        pane.get_by_role("button", name="Hand over").click()
        jane.locator("#status", has_text="You are now talking with Sam Berg.").wait_for()
        pane.get_by_text("You handed this conversation to Sam Berg.").wait_for()
        assert pane.get_by_role("button", name="Send").is_hidden()
        sams = sam.locator(".conversation").last
        sams.locator(".message.in .body", has_text="Where do I enter my pension? <b>bold?</b>").wait_for()
        sams.locator(".message.out .body", has_text="Line 5a, on the second page.").wait_for()
        send(jane, "And the taxable part?")
        sams.locator(".message.in .body", has_text="And the taxable part?").wait_for()
        send(sam, "Line 5b.", sams)
        jane.locator(".message.in .body", has_text="Line 5b.").wait_for()
        screenshot(jane, "transfer-jane")
        screenshot(sam, "transfer-sam")
        assert pane.locator(".message", has_text="And the taxable part?").count() == 0
        assert [*violations(alex), *violations(sam)] == []  # the pane handed on, and the one taking it
