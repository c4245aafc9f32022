"""The IMS side stores the MESSAGEs that arrive together in one transaction: each is answered on
its own, those of a conversation are numbered in the order they came, each carrying the pending
chat message it was sent for, and a retransmission in a later batch is the same message."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from help_desk.chat import Post, post_messages
from help_desk.models import ChatMessage
from ims.actions import Delivery, Inbound, receive_messages
from tests.factories import make_conversation

pytestmark = pytest.mark.django_db(transaction=True)


def _message(frm, to, body, call_id):
    return Inbound(to, frm, "text/plain", body.encode(), call_id, 1)


def test_it_numbers_a_batch_in_the_order_it_arrived(settings):
    settings.HELP_CHAT_OVER_IMS = True
    request, jane, _ = make_conversation()
    jane_impu, alex_impu = request.customer_impu, request.advisor_impu
    post_messages([Post(request.pk, jane, "First", "j1"), Post(request.pk, jane, "Second", "j2")])
    assert set(ChatMessage.objects.values_list("seq", flat=True)) == {None}  # both crossing the IMS
    batch = [
        _message(jane_impu, alex_impu, "First", "c1"),
        _message(jane_impu, "sip:nobody@help.ims.example.net", "Lost", "c2"),
        _message(alex_impu, jane_impu, "From my desk phone", "c3"),
        _message(jane_impu, alex_impu.upper().replace("SIP:", "sip:"), "Second", "c4"),
    ]
    with CaptureQueriesContext(connection) as queries:
        answers = receive_messages(batch)
    assert [delivery for delivery, _ in answers] == [Delivery.STORED, Delivery.NOT_ASSIGNED] + [Delivery.STORED] * 2
    assert len(queries) <= 16  # a batch, not a round of queries per message
    chats = list(ChatMessage.objects.filter(request=request).order_by("seq"))
    assert [(c.seq, c.body, c.from_advisor) for c in chats] == [
        (1, "First", False), (2, "From my desk phone", True), (3, "Second", False)
    ]  # fmt: skip
    assert [c.client_id for c in chats if not c.from_advisor] == ["j1", "j2"]  # the pending ones, now numbered
    assert all(c.pager_message_id for c in chats)
    (again,) = receive_messages([_message(jane_impu, alex_impu, "First", "c1")])
    assert again[0] == Delivery.STORED
    assert again[1] is not None
    assert again[1].pk == chats[0].pager_message_id
    assert ChatMessage.objects.filter(request=request).count() == 3
