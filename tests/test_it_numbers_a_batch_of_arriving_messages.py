"""The IMS side stores the MESSAGEs that arrive together at once: each is answered on its own,
those of a conversation are numbered in the order they came, each carrying the pending chat
message it was sent for (found by its Call-ID, whatever its text), and a retransmission in a
later batch is the same message."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from help_desk.arrivals import arrived
from help_desk.chat import Post, post_messages
from help_desk.models import ChatMessage
from identity_blocks.actions import session_opened
from ims.actions import Delivery, Inbound, _assignments_for, _pager, _store, receive_messages
from ims.models import PagerMessage
from tests.factories import make_conversation

pytestmark = pytest.mark.django_db(transaction=True)


def _message(frm, to, body, call_id):
    return Inbound(to, frm, "text/plain", body.encode(), call_id, 1)


def _call_id(client_id):
    return PagerMessage.objects.get(chat_sent__client_id=client_id).sip_call_id


def test_it_numbers_a_batch_in_the_order_it_arrived(settings):
    settings.HELP_CHAT_OVER_IMS = True
    request, jane, alex = make_conversation()
    for holder in (jane, alex):  # both have the conversation open
        session_opened(holder, f"test.{holder}")
    jane_impu, alex_impu = request.customer_impu, request.advisor_impu
    post_messages([Post(request.pk, jane, "First", "j1"), Post(request.pk, jane, "Second", "j2")])
    assert set(ChatMessage.objects.values_list("seq", flat=True)) == {None}  # both crossing the IMS
    batch = [
        _message(jane_impu, alex_impu, "First", _call_id("j1")),
        _message(jane_impu, "sip:nobody@help.ims.example.net", "Lost", "c2"),
        _message(alex_impu, jane_impu, "From my desk phone", "c3"),
        _message(
            jane_impu, alex_impu.upper().replace("SIP:", "sip:"), "Second, as the core passed it on", _call_id("j2")
        ),
    ]
    with CaptureQueriesContext(connection) as queries:
        answers = receive_messages(batch)
    assert [delivery for delivery, _ in answers] == [Delivery.STORED, Delivery.NOT_ASSIGNED] + [Delivery.STORED] * 2
    assert len(queries) <= 14  # a batch, not queries per message
    chats = list(ChatMessage.objects.filter(request=request).order_by("seq"))
    assert [(c.seq, c.body, c.from_advisor) for c in chats] == [
        (1, "First", False), (2, "From my desk phone", True), (3, "Second", False)
    ]  # fmt: skip
    assert [c.client_id for c in chats if not c.from_advisor] == ["j1", "j2"]  # the pending ones, now numbered
    assert all(c.pager_message_id for c in chats)
    (again,) = receive_messages([_message(jane_impu, alex_impu, "First", _call_id("j1"))])
    assert again[0] == Delivery.STORED
    assert again[1] is not None
    assert again[1].pk == chats[0].pager_message_id
    assert ChatMessage.objects.filter(request=request).count() == 3


def test_it_numbers_a_message_handed_over_again_only_once(settings):
    settings.HELP_CHAT_OVER_IMS = True
    request, jane, _ = make_conversation()
    post_messages([Post(request.pk, jane, "Once", "j1")])
    receive_messages([_message(request.customer_impu, request.advisor_impu, "Once", _call_id("j1"))])
    stored = list(PagerMessage.objects.filter(direction="in"))
    arrived(PagerMessage, messages=stored)
    arrived(PagerMessage, messages=stored + stored)
    assert list(ChatMessage.objects.values_list("seq", "client_id")) == [(1, "j1")]


def test_it_numbers_a_message_stored_before_its_receivers_ran_when_it_comes_again(settings):
    """The IMS side stopped between storing a MESSAGE and numbering it, so no 200 went out; the
    core's retransmission finds it stored and it is numbered then."""
    settings.HELP_CHAT_OVER_IMS = True
    request, jane, _ = make_conversation()
    post_messages([Post(request.pk, jane, "Are you there?", "j1")])
    first = _message(request.customer_impu, request.advisor_impu, "Are you there?", _call_id("j1"))
    called = _assignments_for({first.impu})[first.impu.upper()]
    assert _store([_pager(called.assignment, first)]) == set()
    assert ChatMessage.objects.get().seq is None
    ((delivery, message),) = receive_messages([first])
    assert delivery == Delivery.STORED
    assert message is not None
    chat = ChatMessage.objects.get()
    assert (chat.seq, chat.pager_message_id) == (1, message.pk)
    assert PagerMessage.objects.filter(direction="in").count() == 1
