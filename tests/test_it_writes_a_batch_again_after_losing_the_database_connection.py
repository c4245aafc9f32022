"""A batch that finds its database connection gone (PostgreSQL restarted, a pooler dropped it) is
written once more on a fresh connection instead of failing every message in it; batches do not
ping the database before each write to find out."""

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from help_desk.chat import Post, post_messages
from help_desk.models import ChatMessage
from portal.batching import Batcher
from tests.factories import make_conversation, make_queue

pytestmark = pytest.mark.django_db(transaction=True)


def _backend_pid() -> int:
    return int(connection.connection.info.backend_pid)


async def test_it_posts_the_next_message_after_the_connection_was_cut(
    settings, postgres_admin_url, close_sync_thread_connections
):
    settings.HELP_CHAT_OVER_IMS = False
    request, jane, _ = await sync_to_async(make_conversation)(await sync_to_async(make_queue)(), "alex")
    posting = Batcher(post_messages)
    first = await posting.submit(Post(request.pk, jane, "Hello", "j1"))
    cut = await sync_to_async(_backend_pid, thread_sensitive=True)()
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [cut]).fetchone() == (True,)
    second = await posting.submit(Post(request.pk, jane, "Still there?", "j2"))
    assert (first.seq, second.seq) == (1, 2)
    assert await sync_to_async(_backend_pid, thread_sensitive=True)() != cut
    stored = ChatMessage.objects.filter(request=request).order_by("seq").values_list("seq", "body")
    assert await sync_to_async(lambda: list(stored))() == [(1, "Hello"), (2, "Still there?")]
