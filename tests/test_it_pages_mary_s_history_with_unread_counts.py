"""Mary's history (H.4): her conversations by other party with unread counts, each conversation
paged newest first, replies through the same rules as the communications page, and a paged call
log that says which calls she missed. Only her own identity's history is ever shown."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from identity_blocks import actions
from identity_blocks.holders import Holder
from ims import history
from ims.actions import mark_read
from ims.models import CallRecord, Direction, MessageStatus, PagerMessage
from tests.factories import make_block, make_user

pytestmark = pytest.mark.django_db

ALEX, BOB = "sip:alex@help.ims.example.net", "sip:bob@help.ims.example.net"


@pytest.fixture
def mary(client):
    make_block(5)
    user = make_user("mary")
    assignment = actions.assign_identity(Holder.member(user))
    client.force_login(user)
    return assignment


def _arrive(assignment, remote: str, body: str) -> PagerMessage:
    return PagerMessage.objects.create(
        assignment=assignment, direction=Direction.INBOUND, local_impu=assignment.impu, remote_uri=remote,
        body=body, status=MessageStatus.DELIVERED,
    )  # fmt: skip


def _call(assignment, direction: str, answered_for: int | None, reason: str, minutes_ago: int) -> CallRecord:
    started = timezone.now() - timedelta(minutes=minutes_ago)
    answered = started + timedelta(seconds=3) if answered_for is not None else None
    ended = (answered or started) + timedelta(seconds=answered_for or 20)
    return CallRecord.objects.create(
        key=f"call-{minutes_ago}", assignment=assignment, direction=direction, local_impu=assignment.impu,
        remote_uri=ALEX, started_at=started, answered_at=answered, ended_at=ended, end_reason=reason,
        media="passthrough" if answered else "",
    )  # fmt: skip


def test_it_counts_unread_messages_until_she_reads_them(client, mary):
    for n in range(30):
        _arrive(mary, ALEX, f"Alex's note {n}")
    _arrive(mary, BOB, "Lunch?")
    assert '<span class="badge" aria-label="31 unread">31</span>' in client.get("/identity/").content.decode()

    listing = client.get(reverse("conversations")).content.decode()
    assert listing.index(BOB) < listing.index(ALEX)  # latest first
    assert 'aria-label="30 unread"' in listing
    assert 'aria-label="1 unread"' in listing
    assert "30 messages" in listing
    assert "Alex&#x27;s note 29" in listing

    thread = client.get(reverse("conversation"), {"with": ALEX}).content.decode()
    assert "Page 1 of 2" in thread
    assert "Alex&#x27;s note 29" in thread
    assert "Alex&#x27;s note 4" not in thread
    assert thread.index("note 5<") < thread.index("note 29<")  # oldest first within the page
    older = client.get(reverse("conversation"), {"with": ALEX, "page": 2}).content.decode()
    assert "Alex&#x27;s note 4" in older
    assert "Older messages" not in older

    assert 'aria-label="1 unread"' in client.get("/identity/").content.decode()  # Bob's only
    _arrive(mary, ALEX, "One more thing")
    listing = client.get(reverse("conversations")).content.decode()
    assert listing.index(ALEX) < listing.index(BOB)
    assert 'aria-label="1 unread"' in listing


def test_it_sends_a_reply_by_the_communications_page_s_rules(client, mary):
    _arrive(mary, ALEX, "Can you call me?")
    answer = client.post(f"{reverse('conversation')}?with={ALEX}", {"body": "At three."})
    assert answer.status_code == 302
    reply = PagerMessage.objects.get(direction=Direction.OUTBOUND)
    assert (reply.remote_uri, reply.body, reply.status) == (ALEX, "At three.", MessageStatus.PENDING)
    assert "At three." in client.get(answer["Location"]).content.decode()

    refused = client.post(f"{reverse('conversation')}?with=tel:%2B19005550100", {"body": "hi"})
    assert refused.status_code == 400
    assert "the agreement does not allow calls or messages to +19005550100" in refused.content.decode()
    assert client.post(f"{reverse('conversation')}?with={ALEX}", {"body": ""}).status_code == 400
    assert PagerMessage.objects.filter(direction=Direction.OUTBOUND).count() == 1


def test_it_keeps_a_paged_call_log_that_names_missed_calls(client, mary):
    _call(mary, Direction.INBOUND, None, "no answer", minutes_ago=1)
    _call(mary, Direction.INBOUND, 42, "the other side hung up", minutes_ago=2)
    _call(mary, Direction.OUTBOUND, 7, "hung up", minutes_ago=3)
    for n in range(30):
        _call(mary, Direction.OUTBOUND, 1, "hung up", minutes_ago=10 + n)
    assert '<span class="badge" aria-label="1 missed">1</span>' in client.get("/identity/").content.decode()

    log = client.get(reverse("call-log")).content.decode()
    assert "Page 1 of 2" in log
    rows = log[log.index("<tbody>") :]
    assert rows.index("Missed") < rows.index("Answered") < rows.index("Outgoing")
    assert "42 s" in rows
    assert "7 s" in rows
    assert "passthrough" in rows
    assert "no answer" in rows
    assert 'aria-label="1 missed"' not in client.get("/identity/").content.decode()  # seen now


def test_it_shows_nobody_else_s_history(client, mary):
    _arrive(mary, ALEX, "For Mary only")
    _call(mary, Direction.INBOUND, None, "no answer", minutes_ago=1)
    client.force_login(make_user("outsider"))
    assert "For Mary only" not in client.get(reverse("conversation"), {"with": ALEX}).content.decode()
    assert "No messages yet." in client.get(reverse("conversations")).content.decode()
    assert "No calls yet." in client.get(reverse("call-log")).content.decode()
    client.logout()
    assert client.get(reverse("call-log"))["Location"].startswith("/accounts/login/")


def test_it_lists_conversations_in_a_fixed_number_of_queries(client, mary, django_assert_max_num_queries):
    for n in range(40):
        _arrive(mary, f"sip:colleague{n}@help.ims.example.net", "Hello")
    with django_assert_max_num_queries(8):
        page = client.get(reverse("conversations"))
    assert page.content.decode().count('aria-label="1 unread"') == 25


def test_it_counts_unread_messages_in_one_query_however_many_conversations(mary, django_assert_num_queries):
    for n in range(40):
        _arrive(mary, f"sip:colleague{n}@help.ims.example.net", "Hello")
        _arrive(mary, f"sip:colleague{n}@help.ims.example.net", "Still there?")
    mark_read(Holder.of(mary), "sip:colleague0@help.ims.example.net", PagerMessage.objects.order_by("id")[0].pk)
    with django_assert_num_queries(2):  # the messages' count and the missed calls'
        counts = history.unread(Holder.of(mary))
    assert counts == {"messages": 79, "missed_calls": 0}


def test_it_shows_a_colleague_s_direct_call_on_both_logs(client, mary):
    colleague = make_user("alex")
    theirs = actions.assign_identity(Holder.member(colleague))
    started = timezone.now() - timedelta(minutes=1)
    CallRecord.objects.create(
        key="direct-1", assignment=theirs, callee=mary, direction=Direction.OUTBOUND, local_impu=theirs.impu,
        remote_uri=mary.impu, media="direct", started_at=started, ended_at=started + timedelta(seconds=30),
        end_reason="no answer",
    )  # fmt: skip
    client.force_login(colleague)
    callers = client.get(reverse("call-log")).content.decode()
    assert "Outgoing" in callers
    assert mary.impu in callers
    client.force_login(mary.user)
    assert '<span class="badge" aria-label="1 missed">1</span>' in client.get("/identity/").content.decode()  # still
    log = client.get(reverse("call-log")).content.decode()
    rows = log[log.index("<tbody>") :]
    assert "Missed" in rows
    assert theirs.impu in rows
    assert "direct" in rows
