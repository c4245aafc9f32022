"""Under load a server posts many sockets' messages in one transaction (group commit). Each post
still gets its own answer: its message, numbered in its conversation without gaps, or its own
refusal; a resend in the same batch or a later one is the same message."""

import asyncio
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from help_desk import actions
from help_desk.chat import ChatRefused, Post, post_messages
from help_desk.models import ChatMessage, HelpRequest
from portal.batching import Batcher
from tests.factories import make_conversation, make_queue

pytestmark = pytest.mark.django_db(transaction=True)


def _conversation(queue, name):
    request, jane, advisor = make_conversation(queue, name)
    return request.pk, jane, advisor


def _posted(outcome: ChatMessage | Exception) -> ChatMessage:
    assert isinstance(outcome, ChatMessage), outcome
    return outcome


def test_it_answers_each_post_of_a_batch_on_its_own(settings):
    settings.HELP_CHAT_OVER_IMS = False
    queue = make_queue()
    first, jane, alex = _conversation(queue, "alex")
    second, john, bea = _conversation(queue, "bea")
    posts = [
        Post(first, jane, "Hello", "j1"),
        Post(second, john, "Hi there", "n1"),
        Post(first, alex, "How can I help?", "a1"),
        Post(first, jane, "Hello", "j1"),  # resent before the first was answered
        Post(first, bea, "Not mine", "b1"),
        Post(second, john, "   ", "n2"),
        Post(second, bea, "Welcome", "b2"),
    ]
    with CaptureQueriesContext(connection) as queries:
        outcomes = post_messages(posts)
    assert len(queries) <= 8  # one batch, whatever its size: not a transaction per message
    assert [_posted(o).seq for o in outcomes[:4]] == [1, 1, 2, 1]
    assert outcomes[3] is outcomes[0]
    assert isinstance(outcomes[4], actions.NotYours)
    assert isinstance(outcomes[5], ChatRefused)
    assert _posted(outcomes[6]).seq == 2
    assert _posted(outcomes[6]).from_advisor
    again = post_messages([Post(first, jane, "Hello", "j1"), Post(first, jane, "More", "j2")])
    assert _posted(again[0]).pk == _posted(outcomes[0]).pk
    assert _posted(again[1]).seq == 3
    numbered = ChatMessage.objects.filter(request_id=first).order_by("seq").values_list("seq", "body")
    assert list(numbered) == [(1, "Hello"), (2, "How can I help?"), (3, "More")]


def test_it_refuses_posts_to_a_conversation_closed_meanwhile(settings):
    settings.HELP_CHAT_OVER_IMS = False
    queue = make_queue()
    request_id, jane, _ = _conversation(queue, "alex")
    actions.close_request(request_id)
    (outcome,) = post_messages([Post(request_id, jane, "Still there?", "j1")])
    assert isinstance(outcome, ChatRefused)
    assert not ChatMessage.objects.filter(request_id=request_id).exists()


async def test_it_gathers_what_arrives_while_a_batch_is_written():
    batches = []

    def write(items):
        batches.append(list(items))
        if items == [0]:
            time.sleep(0.2)  # the first batch is in the database while the others arrive
        return [ValueError("odd") if item % 2 else item * 10 for item in items]

    batcher = Batcher(write)
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.sleep(0.05)
    rest = await asyncio.gather(*(batcher.submit(n) for n in range(1, 6)), return_exceptions=True)
    assert await first == 0
    assert [r if not isinstance(r, Exception) else str(r) for r in rest] == ["odd", 20, "odd", 40, "odd"]
    assert batches == [[0], [1, 2, 3, 4, 5]]


def test_it_sends_each_message_of_a_batch_from_its_own_senders_identity(settings):
    from ims.models import PagerMessage

    settings.HELP_CHAT_OVER_IMS = True
    queue = make_queue()
    request_id, jane, alex = _conversation(queue, "alex")
    # Client ids are unique per side only: both sides may pick the same one.
    outcomes = post_messages([Post(request_id, jane, "From Jane", "x1"), Post(request_id, alex, "From Alex", "x1")])
    sent = {_posted(o).body: PagerMessage.objects.get(chat_sent=_posted(o)).local_impu for o in outcomes}
    request = HelpRequest.objects.get(pk=request_id)
    assert sent == {"From Jane": request.customer_impu, "From Alex": request.advisor_impu}
