"""Chat posts stored in one statement on PostgreSQL.

The ordinary path (help_desk.chat._post) is a transaction of five round trips and more: begin,
lock and read the conversations, store their next numbers, insert the messages, commit; where
chat crosses the IMS, also find each sender's identity and insert the MESSAGE to send. At the
rates a busy desk sees, most batches hold one or two messages, so those round trips, each a few
hundred microseconds of the ASGI process's one database thread, were most of what a message
cost. Here one data-modifying WITH, in autocommit, locks the conversations in id order and
decides each sender's side; a message of a conversation that does not cross the IMS is numbered
and stored, one that does is stored unnumbered beside the pager-mode MESSAGE (ims.PagerMessage)
that carries it from the sender's identity, to be numbered when it arrives (help_desk.arrivals).

It takes only what it can finish: well-formed posts to open conversations the sender belongs
to, and for the IMS, from a sender with a live identity and short enough for a MESSAGE. Every
other post (a stranger's, a closed conversation's, a malformed one) is left for the ordinary
path, which says why; so is the whole batch when the statement fails (a resend of a stored
message breaks the `sent_once` constraint, and the ordinary path looks resends up).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection
from django.utils import timezone

from help_desk.models import Advisor, ChatMessage, HelpRequest, RequestStatus
from identity_blocks.models import IdentityAssignment
from ims.models import Direction, MessageStatus, PagerMessage
from portal.prepared import as_loaded, execute, table_of

if TYPE_CHECKING:
    from help_desk.chat import Post

# The backends whose SQL the statement is written in.
ONE_STATEMENT_ON = frozenset({"postgresql"})


def available() -> bool:
    return connection.vendor in ONE_STATEMENT_ON


def post_at_once(posts: list[Post]) -> list[ChatMessage | None]:
    """For each post (well-formed, none a repeat of another), its stored message (numbered, or
    with `sent_as` its MESSAGE to the IMS), or None where the statement could not take it.
    Raises IntegrityError for a resend."""
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
        "over_ims": bool(settings.HELP_CHAT_OVER_IMS),
        "max_bytes": settings.IMS_MAX_MESSAGE_BYTES,
        "outbound": Direction.OUTBOUND.value,
        "text": "text/plain",
        "pending": MessageStatus.PENDING.value,
        "now": now,
    }
    outcomes: list[ChatMessage | None] = [None] * len(posts)
    for ordinal, pk, request_id, seq, from_advisor, *sent in execute(_statement(), params):
        post = posts[ordinal - 1]
        chat = ChatMessage(
            pk=pk, request_id=request_id, seq=seq, from_advisor=from_advisor,
            body=post.body, client_id=post.client_id, created_at=now,
        )  # fmt: skip
        if sent[0] is not None:
            chat.sent_as = _pager(post, now, *sent)
        outcomes[ordinal - 1] = as_loaded(chat)
    return outcomes


def _pager(post: Post, now: datetime, pk: int, assignment_id: int, local: str, remote: str) -> PagerMessage:
    """The MESSAGE the statement stored, as ims.actions.send_messages would have made it."""
    holder = post.holder
    assignment = as_loaded(
        IdentityAssignment(pk=assignment_id, impu=local, user_id=holder.user_id, guest_key=holder.guest_key)
    )
    message = PagerMessage(
        pk=pk, assignment=assignment, direction=Direction.OUTBOUND, local_impu=local, remote_uri=remote,
        body=post.body, status=MessageStatus.PENDING, created_at=now,
    )  # fmt: skip
    return as_loaded(message)


@functools.cache
def _statement() -> str:
    request, advisor, message = table_of(HelpRequest), table_of(Advisor), table_of(ChatMessage)
    pager, identity = table_of(PagerMessage), table_of(IdentityAssignment)
    # `locked` is materialized and ordered so that the rows are locked in id order: two
    # processes' batches over the same conversations then wait for each other, never deadlock.
    # It reads next_seq under the lock, so the number stored back is absolute, not an increment
    # of the older version the UPDATE's snapshot holds. `crossing` takes each MESSAGE's id from
    # its sequence first (materialized: once per row), so that its chat message can name it, and
    # finds the sender's live identity by member or by guest, each through its partial unique index.
    # The advisor is a subquery, not a join: a generic plan's guess of the batch's size made the
    # join a hash of the whole advisor table, read for every batch.
    return f"""
WITH post AS (
    SELECT * FROM unnest(%(requests)s::bigint[], %(users)s::bigint[], %(guests)s::text[], %(bodies)s::text[],
        %(client_ids)s::text[]) WITH ORDINALITY AS p(request_id, user_id, guest_key, body, client_id, n)
), locked AS MATERIALIZED (
    SELECT r.id, r.next_seq, r.user_id, r.guest_key, (SELECT a.user_id FROM {advisor} a WHERE a.id = r.advisor_id)
        AS advisor_user, r.customer_impu, r.advisor_impu
    FROM {request} r
    WHERE r.id = ANY(%(requests)s::bigint[]) AND r.status = %(active)s::text
    ORDER BY r.id FOR UPDATE OF r
), sided AS (
    SELECT p.*, l.next_seq, CASE
        WHEN l.advisor_user = p.user_id THEN true
        WHEN l.user_id = p.user_id OR (p.guest_key <> '' AND l.guest_key = p.guest_key) THEN false
    END AS from_advisor, %(over_ims)s::boolean AND l.customer_impu <> '' AND l.advisor_impu <> '' AS over_ims,
    l.customer_impu, l.advisor_impu
    FROM post p JOIN locked l ON l.id = p.request_id
), numbered AS (
    SELECT s.*, s.next_seq - 1 + row_number() OVER (PARTITION BY s.request_id ORDER BY s.n) AS seq
    FROM sided s WHERE s.from_advisor IS NOT NULL AND NOT s.over_ims
), bumped AS (
    UPDATE {request} r SET next_seq = top.seq + 1
    FROM (SELECT request_id, max(seq) AS seq FROM numbered GROUP BY request_id) top
    WHERE r.id = top.request_id
), crossing AS MATERIALIZED (
    SELECT s.*, i.id AS assignment_id, i.impu AS local_impu,
        CASE WHEN s.from_advisor THEN s.customer_impu ELSE s.advisor_impu END AS remote_uri,
        nextval((SELECT pg_get_serial_sequence('{pager}', 'id'))) AS pager_id
    FROM sided s JOIN {identity} i ON i.id = coalesce(
        (SELECT m.id FROM {identity} m WHERE m.user_id = s.user_id AND m.released_at IS NULL),
        (SELECT g.id FROM {identity} g WHERE g.guest_key = s.guest_key AND g.guest_key <> '' AND g.released_at IS NULL))
    WHERE s.from_advisor IS NOT NULL AND s.over_ims AND octet_length(s.body) <= %(max_bytes)s
), sent AS (
    INSERT INTO {pager} (id, assignment_id, direction, local_impu, remote_uri, content_type, body, status, error,
        sip_call_id, sip_cseq, created_at)
    SELECT pager_id, assignment_id, %(outbound)s, local_impu, remote_uri, %(text)s, body, %(pending)s, '', '', NULL,
        %(now)s::timestamptz FROM crossing ORDER BY n
), chat AS (
    SELECT n, request_id, seq, from_advisor, body, client_id, NULL::bigint AS pager_id FROM numbered
    UNION ALL SELECT n, request_id, NULL, from_advisor, body, client_id, pager_id FROM crossing
), stored AS (
    INSERT INTO {message} (request_id, seq, failed, from_advisor, body, client_id, created_at, sent_as_id)
    SELECT request_id, seq, '', from_advisor, body, client_id, %(now)s::timestamptz, pager_id FROM chat ORDER BY n
    RETURNING id, request_id, seq, from_advisor, client_id, sent_as_id
)
SELECT c.n, s.id, s.request_id, s.seq, s.from_advisor, s.sent_as_id, x.assignment_id, x.local_impu, x.remote_uri
FROM stored s JOIN chat c ON c.request_id = s.request_id AND c.from_advisor = s.from_advisor
    AND c.client_id = s.client_id
LEFT JOIN crossing x ON x.pager_id = s.sent_as_id
"""  # noqa: S608 (names from the models, values as parameters)
