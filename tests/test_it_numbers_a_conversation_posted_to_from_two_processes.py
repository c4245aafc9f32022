"""Two servers post to one conversation at once (its customer on one, its advisor on the other):
the second waits for the first's lock and numbers after what the first committed, at its first
attempt: with no gap, no number twice, no refusal and no clash to roll back."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from help_desk.chat import Post, post_messages
from help_desk.models import ChatMessage
from tests.factories import make_conversation, make_queue

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return bool(cursor.fetchone()[0])


def test_it_numbers_after_what_the_lock_holder_committed(settings):
    settings.HELP_CHAT_OVER_IMS = False
    request, jane, alex = make_conversation(make_queue())
    holding, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def first_server() -> None:
        try:
            with transaction.atomic():  # its batch's transaction, still open
                outcomes["jane"] = post_messages([Post(request.pk, jane, "Hello", "j1")])[0]
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    def second_server() -> None:
        try:
            with CaptureQueriesContext(connection) as statements:
                outcomes["alex"] = post_messages([Post(request.pk, alex, "How can I help?", "a1")])[0]
            outcomes["rolled back"] = [s["sql"] for s in statements if "ROLLBACK" in s["sql"].upper()]
        finally:
            connections.close_all()

    first = threading.Thread(target=first_server)
    first.start()
    assert holding.wait(30)
    second = threading.Thread(target=second_server)
    second.start()
    while not _waiting_for_a_lock():  # the second server's batch waits for the conversation
        assert second.is_alive(), outcomes
    release.set()
    first.join(30)
    second.join(30)
    assert isinstance(outcomes["alex"], ChatMessage), outcomes["alex"]
    assert outcomes["rolled back"] == []  # numbered at the first attempt, not after a clash
    numbered = ChatMessage.objects.filter(request=request).order_by("seq").values_list("seq", "body")
    assert list(numbered) == [(1, "Hello"), (2, "How can I help?")]
