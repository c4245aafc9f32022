"""On PostgreSQL a batch of well-formed posts to open conversations is numbered and stored by one
statement (help_desk.posting); the same batch the step-by-step way gives the same numbers."""

import random
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from help_desk.chat import Post, post_messages
from help_desk.models import ChatMessage
from tests.factories import make_conversation, make_queue

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_posts_both_sides_of_two_conversations_in_one_statement(settings):
    settings.HELP_CHAT_OVER_IMS = False
    queue = make_queue()
    first, jane, alex = make_conversation(queue, "alex")
    second, john, bea = make_conversation(queue, "bea")
    posts = [
        Post(first.pk, jane, "Hello", "j1"),
        Post(second.pk, bea, "Welcome", "b1"),
        Post(first.pk, alex, "How can I help?", "a1"),
        Post(second.pk, john, "Hi", "n1"),
        Post(first.pk, jane, "My figures", "j2"),
    ]
    with CaptureQueriesContext(connection) as queries:
        outcomes = post_messages(posts)
    assert len(queries) == 1
    assert all(isinstance(o, ChatMessage) for o in outcomes)
    assert [(o.request_id, o.seq, o.from_advisor) for o in outcomes if isinstance(o, ChatMessage)] == [
        (first.pk, 1, False), (second.pk, 1, True), (first.pk, 2, True), (second.pk, 2, False), (first.pk, 3, False)
    ]  # fmt: skip
    stored = ChatMessage.objects.order_by("request_id", "seq").values_list("request_id", "seq", "body", "client_id")
    assert list(stored) == [
        (first.pk, 1, "Hello", "j1"), (first.pk, 2, "How can I help?", "a1"), (first.pk, 3, "My figures", "j2"),
        (second.pk, 1, "Welcome", "b1"), (second.pk, 2, "Hi", "n1"),
    ]  # fmt: skip


def test_it_numbers_without_gaps_while_many_threads_post_to_the_same_conversations(settings):
    """Eight database connections (as eight ASGI processes) post batches to three conversations
    from both sides at once: every message stored, each conversation numbered 1..n."""
    settings.HELP_CHAT_OVER_IMS = False
    queue = make_queue()
    sides = [(request.pk, people) for request, *people in (make_conversation(queue, f"a{n}") for n in range(3))]
    failures: list[BaseException] = []

    def post(worker: int) -> None:
        try:
            for batch in range(10):
                chosen = [random.choice(sides) for _ in range(5)]
                posts = [
                    Post(pk, random.choice(people), "Hi", f"w{worker}b{batch}m{n}")
                    for n, (pk, people) in enumerate(chosen)
                ]
                assert all(isinstance(o, ChatMessage) for o in post_messages(posts))
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert ChatMessage.objects.count() == 400
    for pk, _ in sides:
        seqs = list(ChatMessage.objects.filter(request_id=pk).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))


def test_it_finds_each_advisor_by_key_on_a_busy_desk(settings):
    """With thousands of advisors, a batch reads its conversations' advisors by key, even once the
    prepared statement runs a generic plan (from its sixth run), not the whole advisor table."""
    from django.contrib.auth.models import User
    from django.db import transaction

    from help_desk.models import Advisor, HelpRequest, RequestStatus

    settings.HELP_CHAT_OVER_IMS = False
    users = User.objects.bulk_create(User(username=f"desk{n}") for n in range(2000))
    advisors = Advisor.objects.bulk_create(Advisor(user=user) for user in users)
    queue = make_queue()
    HelpRequest.objects.bulk_create(
        HelpRequest(queue=queue, mode="chat", status=RequestStatus.ACTIVE, advisor=a) for a in advisors
    )
    (first, jane, _), (second, _, bea) = make_conversation(queue, "alex"), make_conversation(queue, "bea")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE help_desk_advisor, help_desk_helprequest")
    for batch in range(8):
        with transaction.atomic():  # the counters of this backend not yet reported: before and after
            scans = _advisor_scans()
            post_messages([Post(first.pk, jane, "Hi", f"j{batch}"), Post(second.pk, bea, "Hello", f"b{batch}")])
            assert _advisor_scans() == scans, batch


def _advisor_scans() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'help_desk_advisor'")
        return int(cursor.fetchone()[0])
