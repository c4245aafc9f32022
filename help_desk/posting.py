"""Chat posts numbered and stored in one statement on PostgreSQL.

The ordinary path (help_desk.chat._post) is a transaction of five round trips: begin, lock and
read the conversations, store their next numbers, insert the messages, commit. At the rates a
busy desk sees, most batches hold one or two messages, so those round trips, each a few hundred
microseconds of the ASGI process's one database thread, were most of what a message cost. Here
one data-modifying WITH, in autocommit, locks the conversations in id order, decides each
sender's side, numbers the messages and stores them.

It takes only what it can finish: well-formed posts to open conversations the sender belongs
to. Every other post (a stranger's, a closed conversation's, a malformed one) is left for the
ordinary path, which says why; so is the whole batch when the statement fails (a resend of a
stored message breaks the `sent_once` constraint, and the ordinary path looks resends up). Where
chat crosses the IMS the statement is not used at all (see available).
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from help_desk.models import Advisor, ChatMessage, HelpRequest, RequestStatus
from portal.prepared import execute, table_of

if TYPE_CHECKING:
    from help_desk.chat import Post

# The backends whose SQL the statement is written in.
ONE_STATEMENT_ON = frozenset({"postgresql"})


def available() -> bool:
    """Not where chat crosses the IMS: there most conversations would be left to the ordinary
    path, after a statement that took nothing."""
    return connection.vendor in ONE_STATEMENT_ON and not settings.HELP_CHAT_OVER_IMS


def undone_on_error() -> AbstractContextManager[object]:
    """Outside a transaction (a server's batches) the statement is its own; inside one, a
    savepoint, so that a resend's IntegrityError leaves the caller's transaction usable."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def post_at_once(posts: list[Post]) -> list[ChatMessage | None]:
    """For each post (well-formed, none a repeat of another), its stored message, or None where
    the statement could not take it. Raises IntegrityError for a resend."""
    if not posts:
        return []
    now = timezone.now()
    params = {
        "requests": [post.request_id for post in posts],
        "users": [post.holder.user_id for post in posts],
        "guests": [post.holder.guest_key for post in posts],
        "bodies": [post.body for post in posts],
        "client_ids": [post.client_id for post in posts],
        "active": RequestStatus.ACTIVE.value,
        "now": now,
    }
    outcomes: list[ChatMessage | None] = [None] * len(posts)
    for ordinal, pk, request_id, seq, from_advisor in execute(_statement(), params):
        post = posts[ordinal - 1]
        chat = ChatMessage(
            pk=pk, request_id=request_id, seq=seq, from_advisor=from_advisor,
            body=post.body, client_id=post.client_id, created_at=now,
        )  # fmt: skip
        chat._state.adding, chat._state.db = False, connection.alias
        outcomes[ordinal - 1] = chat
    return outcomes


@functools.cache
def _statement() -> str:
    request, advisor, message = table_of(HelpRequest), table_of(Advisor), table_of(ChatMessage)
    # `locked` is materialized and ordered so that the rows are locked in id order: two
    # processes' batches over the same conversations then wait for each other, never deadlock.
    # It reads next_seq under the lock, so the number stored back is absolute, not an increment
    # of the older version the UPDATE's snapshot holds.
    return f"""
WITH post AS (
    SELECT * FROM unnest(%(requests)s::bigint[], %(users)s::bigint[], %(guests)s::text[], %(bodies)s::text[],
        %(client_ids)s::text[]) WITH ORDINALITY AS p(request_id, user_id, guest_key, body, client_id, n)
), locked AS MATERIALIZED (
    SELECT r.id, r.next_seq, r.user_id, r.guest_key, a.user_id AS advisor_user
    FROM {request} r LEFT JOIN {advisor} a ON a.id = r.advisor_id
    WHERE r.id = ANY(%(requests)s::bigint[]) AND r.status = %(active)s::text
    ORDER BY r.id FOR UPDATE OF r
), sided AS (
    SELECT p.*, l.next_seq, CASE
        WHEN l.advisor_user = p.user_id THEN true
        WHEN l.user_id = p.user_id OR (p.guest_key <> '' AND l.guest_key = p.guest_key) THEN false
    END AS from_advisor
    FROM post p JOIN locked l ON l.id = p.request_id
), numbered AS (
    SELECT s.*, s.next_seq - 1 + row_number() OVER (PARTITION BY s.request_id ORDER BY s.n) AS seq
    FROM sided s WHERE s.from_advisor IS NOT NULL
), bumped AS (
    UPDATE {request} r SET next_seq = top.seq + 1
    FROM (SELECT request_id, max(seq) AS seq FROM numbered GROUP BY request_id) top
    WHERE r.id = top.request_id
)
INSERT INTO {message} (request_id, seq, failed, from_advisor, body, client_id, created_at)
SELECT request_id, seq, '', from_advisor, body, client_id, %(now)s::timestamptz FROM numbered ORDER BY n
RETURNING (SELECT n FROM numbered WHERE numbered.request_id = {message}.request_id
    AND numbered.seq = {message}.seq), id, request_id, seq, from_advisor
"""  # noqa: S608 (names from the models, values as parameters)
