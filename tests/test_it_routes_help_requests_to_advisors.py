"""Requests ring the longest-idle available advisor with room, for a while, then the next;
advisors accept or decline; requests wait in order; capacity and presence are respected."""

from datetime import timedelta

import pytest
from django.utils import timezone

from help_desk import actions
from help_desk.models import HelpRequest, RequestStatus
from identity_blocks.holders import Holder
from tests.factories import guest, make_advisor, make_queue

pytestmark = pytest.mark.django_db(transaction=True)


def _ask(queue, mode="chat", secure=False):
    return actions.request_help(guest(), queue, mode, secure)


def _fresh(request):
    return HelpRequest.objects.get(pk=request.pk)


def test_it_rings_the_advisor_idle_longest_once_someone_is_available():
    queue = make_queue()
    alex = make_advisor("alex", queue, idle_minutes=5)
    bea = make_advisor("bea", queue, idle_minutes=30)
    jane = _ask(queue)
    assert _fresh(jane).status == RequestStatus.WAITING  # nobody is on duty yet
    actions.set_presence(alex, "available")
    assert _fresh(jane).ringing_advisor == alex
    actions.set_presence(bea, "available")
    second = _ask(queue)
    assert _fresh(second).ringing_advisor == bea


def test_it_lets_only_the_ringing_advisor_accept_and_records_both_identities():
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available")
    bea = make_advisor("bea", queue, presence="away")
    jane = _ask(queue)
    with pytest.raises(actions.NotYours):
        actions.accept_request(bea, jane.pk)
    accepted = actions.accept_request(alex, jane.pk)
    assert (accepted.status, accepted.advisor) == (RequestStatus.ACTIVE, alex)
    assert accepted.customer_impu.startswith("sip:help-")
    assert accepted.advisor_impu.startswith("sip:help-")
    assert accepted.customer_impu != accepted.advisor_impu


def test_it_rings_the_next_advisor_after_a_decline_or_a_ring_out():
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available", idle_minutes=30)
    bea = make_advisor("bea", queue, presence="available", idle_minutes=10)
    cal = make_advisor("cal", queue, presence="available", idle_minutes=1)
    jane = _ask(queue)
    assert _fresh(jane).ringing_advisor == alex
    actions.decline_request(alex, jane.pk)
    assert _fresh(jane).ringing_advisor == bea
    HelpRequest.objects.filter(pk=jane.pk).update(ring_until=timezone.now() - timedelta(seconds=1))
    assert actions.expire_rings() == 1
    assert _fresh(jane).ringing_advisor == cal
    actions.decline_request(cal, jane.pk)
    assert _fresh(jane).status == RequestStatus.WAITING  # everyone passed: it waits for someone new


def test_it_keeps_requests_in_order_within_capacity():
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available", capacity=1)
    first, second = _ask(queue), _ask(queue)
    assert _fresh(first).ringing_advisor == alex
    assert _fresh(second).status == RequestStatus.WAITING
    assert (actions.position(_fresh(first)), actions.position(_fresh(second))) == (1, 2)
    actions.accept_request(alex, first.pk)
    assert _fresh(second).status == RequestStatus.WAITING  # alex is full
    actions.close_request(first.pk, advisor=alex, wrap_up="Explained line 5a")
    assert _fresh(second).ringing_advisor == alex
    assert _fresh(first).wrap_up == "Explained line 5a"


def test_it_offers_only_what_the_agreement_allows():
    queue = make_queue(allows_video=False, allows_secure_chat=False)
    with pytest.raises(actions.HelpRefused, match="does not offer video"):
        _ask(queue, mode="video")
    with pytest.raises(actions.HelpRefused, match="secure line"):
        _ask(queue, secure=True)


def test_it_returns_the_open_request_when_asked_again():
    queue = make_queue()
    jane = Holder.guest(Holder.new_guest_key())
    first = actions.request_help(jane, queue, "chat", False)
    assert actions.request_help(jane, queue, "chat", False).pk == first.pk


def test_it_estimates_the_wait_from_the_advisors_taking_requests():
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="busy", capacity=1)
    assert actions.expected_wait(queue, 1) is None  # nobody takes new requests: no number would be true
    actions.set_presence(alex, "available")
    assert actions.expected_wait(queue, 1) == 0
    assert actions.expected_wait(queue, 3) == 2 * actions.DEFAULT_HANDLING_SECONDS


def test_it_takes_a_secure_request_where_the_agreement_includes_secure_chat():
    queue = make_queue(allows_voice=True, allows_secure_chat=True)
    asked = _ask(queue, secure=True)  # her page asks for the secure line once an advisor takes it
    assert HelpRequest.objects.get(pk=asked.pk).secure
    assert _ask(queue, mode="voice").mode == "voice"  # a call, with chat beside it


def test_it_refuses_what_the_agreement_does_not_offer():
    queue = make_queue(allows_voice=False, allows_video=False)
    for mode in ("voice", "video"):
        with pytest.raises(actions.HelpRefused, match=f"does not offer {mode}"):
            _ask(queue, mode=mode)
