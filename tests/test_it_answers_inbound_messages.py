"""An inbound MESSAGE: 404 for an identity nobody holds, 480 when its holder has no open session,
and 200 only once it is stored; the same MESSAGE twice is stored once."""

import pytest

from identity_blocks import actions
from identity_blocks.holders import Holder
from ims.actions import Delivery, receive_message
from ims.models import PagerMessage
from tests.factories import make_block

pytestmark = pytest.mark.django_db


def _receive(impu, call_id="c1", body=b"Hello", content_type="text/plain"):
    return receive_message(impu, "sip:sipp@ims.test", content_type, body, call_id=call_id, cseq=1)


def test_it_answers_by_who_holds_the_identity(settings):
    make_block(5)
    jane = Holder.guest(Holder.new_guest_key())
    impu = actions.assign_identity(jane).impu
    assert _receive("sip:help-0000004@help.ims.example.net")[0] == Delivery.NOT_ASSIGNED
    assert _receive(impu)[0] == Delivery.NO_SESSION
    assert PagerMessage.objects.count() == 0
    actions.session_opened(jane, "channel.jane")
    delivery, message = _receive(impu.upper().replace("SIP:", "sip:"))  # identities compare case-blind
    assert delivery == Delivery.STORED
    assert message is not None
    assert (message.body, message.remote_uri) == ("Hello", "sip:sipp@ims.test")
    assert _receive(impu)[0] == Delivery.STORED  # a retransmission
    assert PagerMessage.objects.count() == 1
    actions.session_closed(jane, "channel.jane")
    assert _receive(impu)[0] == Delivery.STORED  # one that was stored before she left: still a 200
    assert PagerMessage.objects.count() == 1
    settings.IMS_MAX_MESSAGE_BYTES = 4
    assert _receive(impu, call_id="c2")[0] == Delivery.TOO_LARGE
    assert _receive(impu, call_id="c3", body=b"x", content_type="application/octet-stream")[0] == Delivery.UNSUPPORTED


def test_it_refuses_to_send_what_cannot_go_with_a_reason(settings):
    from ims.actions import MessageRefused, send_message

    make_block(5)
    jane = Holder.guest(Holder.new_guest_key())
    with pytest.raises(MessageRefused, match="no IMS identity yet"):
        send_message(jane, "sip:advisor@ims.test", "hello")
    actions.assign_identity(jane)
    settings.IMS_MAX_MESSAGE_BYTES = 10
    with pytest.raises(MessageRefused, match="longer than 10 bytes"):
        send_message(jane, "sip:advisor@ims.test", "a rather long message")
    with pytest.raises(MessageRefused, match="empty"):
        send_message(jane, "sip:advisor@ims.test", "   ")
    with pytest.raises(MessageRefused, match="not a valid SIP or tel URI"):
        send_message(jane, "advisor at the office", "hi")
