"""A call in a conversation goes from the caller's identity to the other side's, and only where
the conversation is open, the caller is one of its two sides, and the agreement offers calls (and
video, for a video call); the events of a call reach the conversation they belong to."""

import pytest

from help_desk import actions, calls
from help_desk.models import HelpRequest
from identity_blocks.holders import Holder
from tests.factories import make_conversation, make_queue

pytestmark = pytest.mark.django_db(transaction=True)


def _identity(holder):
    from identity_blocks.models import IdentityAssignment

    return IdentityAssignment.objects.live().of(holder).get()


def test_it_calls_the_other_side_from_the_caller_s_identity():
    request, jane, advisor = make_conversation(make_queue(allows_voice=True, allows_video=True))
    from_jane = calls.placement(request.pk, jane, video=True)
    assert (from_jane.assignment_id, from_jane.to) == (_identity(jane).pk, request.advisor_impu)
    from_advisor = calls.placement(request.pk, advisor, video=False)
    assert (from_advisor.assignment_id, from_advisor.to) == (_identity(advisor).pk, request.customer_impu)
    assert calls.conversation_of(jane, request.customer_impu, request.advisor_impu.upper()) == request.pk
    assert calls.conversation_of(advisor, request.customer_impu, request.advisor_impu) == request.pk


def test_it_refuses_an_outsider_a_closed_conversation_and_what_the_agreement_leaves_out():
    request, jane, _ = make_conversation(make_queue(allows_voice=True, allows_video=False))
    outsider = Holder.guest(Holder.new_guest_key())
    with pytest.raises(actions.NotYours):
        calls.placement(request.pk, outsider, video=False)
    assert calls.conversation_of(outsider, request.customer_impu, request.advisor_impu) is None
    with pytest.raises(calls.CallRefused, match="Video is not part"):
        calls.placement(request.pk, jane, video=True)
    HelpRequest.objects.filter(pk=request.pk).update(status="closed")
    with pytest.raises(calls.CallRefused, match="not open"):
        calls.placement(request.pk, jane, video=False)


def test_it_refuses_calls_where_the_agreement_offers_only_chat():
    request, jane, advisor = make_conversation(make_queue(allows_voice=False))
    for caller in (jane, advisor):
        with pytest.raises(calls.CallRefused, match="Calls are not part"):
            calls.placement(request.pk, caller, video=False)
