"""Chat messages crossing the IMS are queued in one batch (the senders' identities in one query,
one event to the IMS side carrying what to send) and the IMS core's answers are recorded in one:
a 2xx marks the MESSAGE sent, anything else marks it failed and the chat message it carried
shows why, and an answer for a message that does not exist is that answer's error alone."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from help_desk.chat import Post, post_messages
from help_desk.models import ChatMessage
from ims.actions import Outcome, message_outcomes
from ims.models import MessageStatus, PagerMessage
from tests.factories import make_conversation

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_queues_a_batch_crossing_the_ims_in_a_few_queries(settings):
    settings.HELP_CHAT_OVER_IMS = True
    request, jane, alex = make_conversation()
    posts = [Post(request.pk, jane, f"Question {n}", f"j{n}") for n in range(5)] + [Post(request.pk, alex, "Hi", "a1")]
    with CaptureQueriesContext(connection) as queries:
        posted = post_messages(posts)
    assert len(queries) <= 12  # a batch, not a round of queries per message
    sent = {chat.body: chat.sent_as for chat in posted if isinstance(chat, ChatMessage)}
    assert len(sent) == 6
    assert sent["Hi"] is not None
    assert (sent["Hi"].local_impu, sent["Hi"].remote_uri) == (request.advisor_impu, request.customer_impu)
    assert sent["Question 0"] is not None
    assert (sent["Question 0"].local_impu, sent["Question 0"].remote_uri) == (
        request.customer_impu,
        request.advisor_impu,
    )


def test_it_records_each_answer_of_a_batch(settings):
    settings.HELP_CHAT_OVER_IMS = True
    request, jane, _ = make_conversation()
    post_messages([Post(request.pk, jane, "Fine", "j1"), Post(request.pk, jane, "Doomed", "j2")])
    fine, doomed = (ChatMessage.objects.get(client_id=c).sent_as_id for c in ("j1", "j2"))
    assert fine is not None
    assert doomed is not None
    answers = [
        Outcome(fine, 202, "Accepted"),
        Outcome(doomed, 480, "Temporarily Unavailable"),
        Outcome(10**9, 200, "OK"),
    ]
    with CaptureQueriesContext(connection) as queries:
        decided = message_outcomes(answers)
    assert isinstance(decided[0], PagerMessage)
    assert decided[0].assignment.impu == request.customer_impu  # whose sockets hear of it
    assert len(queries) <= 8  # the answers in one transaction; the chat message that failed, marked
    assert isinstance(decided[2], PagerMessage.DoesNotExist)
    statuses = dict(PagerMessage.objects.filter(pk__in=[fine, doomed]).values_list("pk", "status"))
    assert statuses == {fine: MessageStatus.SENT, doomed: MessageStatus.FAILED}
    assert ChatMessage.objects.get(client_id="j2").failed == "480 Temporarily Unavailable"
    assert ChatMessage.objects.get(client_id="j1").failed == ""
