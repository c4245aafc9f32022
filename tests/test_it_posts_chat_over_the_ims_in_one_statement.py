"""Where chat crosses the IMS, a post is stored unnumbered beside the MESSAGE that carries it from
the sender's identity to the other side's, and the IMS side is asked to send it; on PostgreSQL the
whole batch, crossing and direct conversations alike, is one statement (help_desk.posting), and
the step-by-step way stores the same rows."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from help_desk.chat import ChatRefused, Post, post_messages
from help_desk.models import ChatMessage, HelpRequest
from identity_blocks import actions as identity_actions
from identity_blocks.events import IMS_GROUP
from ims.models import Direction, MessageStatus, PagerMessage
from tests.factories import make_conversation, make_queue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("way")]


@pytest.fixture(autouse=True)
def over_ims(settings):
    settings.HELP_CHAT_OVER_IMS = True


@pytest.fixture
def ims_side():
    """A channel in the IMS side's group, as a run_ims process holds: what it is asked to send."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(IMS_GROUP, channel)
    return lambda: async_to_sync(layer.receive)(channel)


def _sent(outcome: ChatMessage | Exception) -> ChatMessage:
    assert isinstance(outcome, ChatMessage), outcome
    assert outcome.seq is None
    assert outcome.sent_as_id is not None
    return outcome


def test_it_stores_each_post_with_the_message_that_carries_it(way, ims_side):
    queue = make_queue()
    first, jane, alex = make_conversation(queue, "alex")
    second, _, bea = make_conversation(queue, "bea")
    posts = [
        Post(first.pk, jane, "Hello", "j1"),
        Post(second.pk, bea, "Welcome", "b1"),
        Post(first.pk, alex, "Hi", "a1"),
    ]
    with CaptureQueriesContext(connection) as queries:
        outcomes = [_sent(o) for o in post_messages(posts)]
    if way == "in one statement":
        assert len(queries) == 1
    pagers: dict[int | None, PagerMessage] = {m.pk: m for m in PagerMessage.objects.all()}
    carried = [
        (pagers[c.sent_as_id].local_impu, pagers[c.sent_as_id].remote_uri, pagers[c.sent_as_id].body) for c in outcomes
    ]
    assert carried == [
        (first.customer_impu, first.advisor_impu, "Hello"),
        (second.advisor_impu, second.customer_impu, "Welcome"),
        (first.advisor_impu, first.customer_impu, "Hi"),
    ]
    assert {(m.direction, m.status, m.content_type) for m in pagers.values()} == {
        (Direction.OUTBOUND, MessageStatus.PENDING, "text/plain")
    }
    stored = ChatMessage.objects.order_by("id").values_list("client_id", "seq", "sent_as_id", "from_advisor")
    assert list(stored) == [(c.client_id, None, c.sent_as_id, c.from_advisor) for c in outcomes]
    event = ims_side()
    while event["type"] == "ims.register":  # the two identities' registrations, from the set-up
        event = ims_side()
    assert event["type"] == "ims.message.send"
    assert [(m["id"], m["to"], m["body"]) for m in event["messages"]] == [
        (c.sent_as_id, pagers[c.sent_as_id].remote_uri, pagers[c.sent_as_id].body) for c in outcomes
    ]
    assert [m["assignment"] for m in event["messages"]] == [pagers[c.sent_as_id].assignment_id for c in outcomes]


def test_it_numbers_at_once_a_conversation_without_identities_in_the_same_batch(way):
    queue = make_queue()
    crossing, jane, _ = make_conversation(queue, "alex")
    direct, john, _ = make_conversation(queue, "bea")
    HelpRequest.objects.filter(pk=direct.pk).update(customer_impu="", advisor_impu="")
    sent, numbered = post_messages([Post(crossing.pk, jane, "Over the IMS", "j1"), Post(direct.pk, john, "Not", "n1")])
    _sent(sent)
    assert isinstance(numbered, ChatMessage)
    assert (numbered.seq, numbered.sent_as_id) == (1, None)
    assert PagerMessage.objects.count() == 1


def test_it_refuses_a_sender_without_an_identity_and_keeps_the_rest(way):
    queue = make_queue()
    request, jane, alex = make_conversation(queue, "alex")
    identity_actions.release_identity(request_assignment(request, jane), reason="expired")
    refused, sent = post_messages([Post(request.pk, jane, "Hello?", "j1"), Post(request.pk, alex, "Hi", "a1")])
    assert isinstance(refused, ChatRefused)
    assert "no IMS identity" in str(refused)
    assert _sent(sent).from_advisor
    assert list(ChatMessage.objects.values_list("client_id", flat=True)) == ["a1"]


def test_it_refuses_a_message_too_long_for_the_ims(way, settings):
    settings.IMS_MAX_MESSAGE_BYTES = 10
    request, jane, _ = make_conversation()
    long, short = post_messages([Post(request.pk, jane, "é" * 6, "j1"), Post(request.pk, jane, "Short", "j2")])
    assert isinstance(long, ChatRefused)
    assert "longer than 10 bytes" in str(long)
    _sent(short)
    assert PagerMessage.objects.get().body == "Short"


def request_assignment(request: HelpRequest, holder) -> int:
    from identity_blocks.models import IdentityAssignment

    return IdentityAssignment.objects.live().of(holder).get().pk
