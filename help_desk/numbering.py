"""Chat messages arriving over the IMS, numbered in one statement on PostgreSQL.

The ordinary way (help_desk.arrivals) is a transaction: lock the open conversations between the
batch's identities, lock their pending messages, store the next numbers, insert or number the
messages, commit; seven round trips of the IMS side's one database thread for a batch that at
moderate rates holds one MESSAGE. Here one data-modifying WITH, in autocommit, does the same:
each MESSAGE between the two identities of an open conversation (the oldest, should there be
two) is numbered in the order the IMS delivered it, and carries the oldest pending message with
its text from its side, or is stored as a new one (sent from elsewhere: an advisor's phone).

A MESSAGE that already carries a chat message (handed over again: see ims.signals) is left
alone. Conversations are locked in id order, as posting locks them, so the two cannot deadlock.
The pending messages are read in the statement's snapshot, which may predate the lock: only
messages posted while the statement waited are missing from it, and their MESSAGEs cannot have
arrived yet (they are sent once the post is stored). The arrivals at one identity are numbered
by the one process that holds its registration, one batch after another.
"""

from __future__ import annotations

import functools

from django.db import DEFAULT_DB_ALIAS, connection
from django.utils import timezone

from help_desk.models import ChatMessage, HelpRequest, RequestStatus
from ims.models import PagerMessage
from portal.prepared import execute, fields_of, table_of

ONE_STATEMENT_ON = frozenset({"postgresql"})


def available() -> bool:
    return connection.vendor in ONE_STATEMENT_ON


def number_at_once(messages: list[PagerMessage]) -> list[ChatMessage]:
    """The chat messages numbered, in the order of their numbers in each conversation."""
    now = timezone.now()
    params = {
        "ids": [m.pk for m in messages],
        "locals": [m.local_impu.upper() for m in messages],
        "remotes": [m.remote_uri.upper() for m in messages],
        "bodies": [m.body for m in messages],
        "impus": list({impu for m in messages for impu in (m.local_impu.upper(), m.remote_uri.upper())}),
        "now": now,
    }
    return [ChatMessage.from_db(DEFAULT_DB_ALIAS, fields_of(ChatMessage), row) for row in execute(_statement(), params)]


@functools.cache
def _statement() -> str:
    request, message = table_of(HelpRequest), table_of(ChatMessage)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in ChatMessage._meta.concrete_fields)
    # The status is written out, not a parameter, so that a prepared statement's generic plan
    # can use the partial index open_between. `pending` ranks each side's unnumbered messages
    # of one text oldest first, and `numbered` ranks the arrivals the same way, so that the k-th
    # arrival of a text carries the k-th pending message of that text.
    return f"""
WITH arrived AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(locals)s::text[], %(remotes)s::text[], %(bodies)s::text[])
        WITH ORDINALITY AS m(pager_id, local, remote, body, n)
), locked AS MATERIALIZED (
    SELECT r.id, r.next_seq, upper(r.customer_impu) AS customer, upper(r.advisor_impu) AS advisor
    FROM {request} r
    WHERE r.status = '{RequestStatus.ACTIVE.value}' AND upper(r.customer_impu) = ANY(%(impus)s::text[])
        AND upper(r.advisor_impu) = ANY(%(impus)s::text[])
    ORDER BY r.id FOR UPDATE
), matched AS (
    SELECT DISTINCT ON (m.n) m.*, l.id AS request_id, l.next_seq, l.advisor = m.remote AS from_advisor
    FROM arrived m JOIN locked l
        ON (l.customer = m.remote AND l.advisor = m.local) OR (l.customer = m.local AND l.advisor = m.remote)
    WHERE NOT EXISTS (SELECT 1 FROM {message} c WHERE c.pager_message_id = m.pager_id)
    ORDER BY m.n, l.id
), numbered AS (
    SELECT x.*, x.next_seq - 1 + row_number() OVER (PARTITION BY x.request_id ORDER BY x.n) AS seq,
        row_number() OVER (PARTITION BY x.request_id, x.from_advisor, x.body ORDER BY x.n) AS rank
    FROM matched x
), pending AS (
    SELECT c.id, c.request_id, c.from_advisor, c.body,
        row_number() OVER (PARTITION BY c.request_id, c.from_advisor, c.body ORDER BY c.id) AS rank
    FROM {message} c
    WHERE c.request_id IN (SELECT request_id FROM numbered) AND c.seq IS NULL AND c.failed = ''
), carried AS MATERIALIZED (
    SELECT x.*, p.id AS chat_id FROM numbered x LEFT JOIN pending p
        ON p.request_id = x.request_id AND p.from_advisor = x.from_advisor AND p.body = x.body AND p.rank = x.rank
), bumped AS (
    UPDATE {request} r SET next_seq = top.seq + 1
    FROM (SELECT request_id, max(seq) AS seq FROM carried GROUP BY request_id) top
    WHERE r.id = top.request_id
), taken AS (
    UPDATE {message} c SET seq = x.seq, pager_message_id = x.pager_id FROM carried x WHERE c.id = x.chat_id
    RETURNING c.*
), added AS (
    INSERT INTO {message} (request_id, seq, failed, from_advisor, body, client_id, created_at, pager_message_id)
    SELECT request_id, seq, '', from_advisor, body, 'ims-' || pager_id, %(now)s::timestamptz, pager_id
    FROM carried WHERE chat_id IS NULL ORDER BY n
    RETURNING *
)
SELECT {columns} FROM taken UNION ALL SELECT {columns} FROM added ORDER BY request_id, seq
"""  # noqa: S608 (names from the models, values as parameters)
