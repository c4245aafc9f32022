"""Nobody is stranded: an advisor who let a request ring out or declined it is rung for it again
after HELP_RING_COOLDOWN_SECONDS, for as long as anyone takes requests; HELP_MISSED_RINGS_AWAY
missed rings in a row set an advisor away; a Busy advisor is on duty but never rung."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from help_desk import actions, routing_actions
from help_desk.models import Advisor, HelpRequest, RequestStatus, RingPass
from tests.factories import guest, make_advisor, make_queue

pytestmark = pytest.mark.django_db(transaction=True)


def _ask(queue):
    return actions.request_help(guest(), queue, "chat", False)


def _fresh(request):
    return HelpRequest.objects.get(pk=request.pk)


def _ring_out(request):
    HelpRequest.objects.filter(pk=request.pk).update(ring_until=timezone.now() - timedelta(seconds=1))
    assert routing_actions.expire_rings() == 1


def _cool_down_over(**passes):
    ago = timedelta(seconds=settings.HELP_RING_COOLDOWN_SECONDS + 1)
    RingPass.objects.filter(**passes).update(passed_at=F("passed_at") - ago)


def test_it_rings_the_only_advisor_again_once_the_cool_down_is_over():
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available")
    jane = _ask(queue)
    _ring_out(jane)
    assert _fresh(jane).status == RequestStatus.WAITING
    assert routing_actions.offer_again() == 0  # alex is cooling down on her request
    _cool_down_over()
    assert routing_actions.offer_again() == 1
    assert _fresh(jane).ringing_advisor == alex
    assert actions.accept_request(alex, jane.pk).status == RequestStatus.ACTIVE


def test_it_comes_back_round_to_the_advisors_who_declined():
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available", idle_minutes=30)
    bea = make_advisor("bea", queue, presence="available", idle_minutes=10)
    jane = _ask(queue)
    actions.decline_request(alex, jane.pk)
    assert _fresh(jane).ringing_advisor == bea
    actions.decline_request(bea, jane.pk)
    assert _fresh(jane).status == RequestStatus.WAITING
    _cool_down_over(advisor=alex)  # alex passed first, so alex's cool-down ends first
    routing_actions.offer_again()
    assert _fresh(jane).ringing_advisor == alex
    assert RingPass.objects.filter(request=jane).count() == 2  # one pass per advisor, its time renewed


def test_it_takes_the_cool_down_from_the_settings(settings):
    settings.HELP_RING_COOLDOWN_SECONDS = 0
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available")
    jane = _ask(queue)
    actions.decline_request(alex, jane.pk)
    assert (_fresh(jane).status, _fresh(jane).ringing_advisor) == (RequestStatus.RINGING, alex)


def test_it_sets_an_advisor_away_after_missing_rings_in_a_row(settings):
    settings.HELP_RING_COOLDOWN_SECONDS, settings.HELP_MISSED_RINGS_AWAY = 0, 2
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available", capacity=2)
    jane, mary = _ask(queue), _ask(queue)
    _ring_out(jane)  # rung again at once: no cool-down
    assert Advisor.objects.get(pk=alex.pk).missed_rings == 1
    _ring_out(jane)
    alex.refresh_from_db()
    assert (alex.presence, alex.missed_rings) == ("away", 0)
    # Mary's ring went on too: nothing rings for someone away.
    assert [_fresh(r).status for r in (jane, mary)] == [RequestStatus.WAITING, RequestStatus.WAITING]
    assert not RingPass.objects.filter(request=mary).exists()  # withdrawn, not passed over


def test_it_counts_a_decline_or_an_accept_as_an_answer(settings):
    settings.HELP_RING_COOLDOWN_SECONDS, settings.HELP_MISSED_RINGS_AWAY = 0, 2
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available")
    jane = _ask(queue)
    _ring_out(jane)
    actions.decline_request(alex, jane.pk)
    assert Advisor.objects.get(pk=alex.pk).missed_rings == 0
    _ring_out(jane)
    actions.accept_request(alex, jane.pk)
    assert Advisor.objects.get(pk=alex.pk).missed_rings == 0
    assert Advisor.objects.get(pk=alex.pk).presence == "available"


def test_it_never_rings_a_busy_advisor():
    queue = make_queue()
    make_advisor("alex", queue, presence="busy", idle_minutes=60)
    bea = make_advisor("bea", queue, presence="available", idle_minutes=1)
    jane = _ask(queue)
    assert _fresh(jane).ringing_advisor == bea  # alex waited longer, but is busy
    actions.set_presence(bea, "busy")
    assert _fresh(jane).status == RequestStatus.WAITING  # her ring was withdrawn...
    assert not RingPass.objects.exists()  # ...without counting against bea
    assert actions.on_duty(queue)
    assert not actions.taking_requests(queue)
    assert actions.expected_wait(queue, 1) is None
    assert routing_actions.offer_again() == 0
    actions.set_presence(bea, "available")
    assert _fresh(jane).ringing_advisor == bea
