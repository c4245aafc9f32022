"""Inbound MESSAGEs stored in one statement on PostgreSQL.

A batch of MESSAGEs that arrived together was a transaction of its own (begin, insert, commit)
around what its receivers did, each a round trip of the IMS side's one database thread. On
PostgreSQL it is one `INSERT ... ON CONFLICT DO NOTHING` in autocommit: a MESSAGE stored before
(a retransmission after its transaction ended, or one another process stored) is skipped by the
unique constraint instead of failing the batch, and looked up. Receivers then run after the
messages are stored, not inside the same transaction, so they must be idempotent: a MESSAGE
whose receivers failed is retransmitted by the IMS core and handed to them again.
"""

from __future__ import annotations

import functools

from django.db import connection, transaction
from django.db.utils import IntegrityError

from ims.models import Direction, PagerMessage
from portal.prepared import as_loaded, execute, table_of

# The backends whose SQL the statement is written in.
ONE_STATEMENT_ON = frozenset({"postgresql"})
Key = tuple[str, int]  # Call-ID and CSeq: a MESSAGE's identity across retransmissions


def key_of(message: PagerMessage) -> Key:
    return message.sip_call_id, message.sip_cseq or 0


def store(messages: list[PagerMessage]) -> set[Key]:
    """Store those not stored before; returns the keys of those that were."""
    if not messages:
        return set()
    if connection.vendor in ONE_STATEMENT_ON:
        return _store_at_once(messages)
    return _store_each(messages)


def _store_at_once(messages: list[PagerMessage]) -> set[Key]:
    columns = ("assignment_id", "local_impu", "remote_uri", "content_type", "body", "status", "sip_call_id")
    params: dict[str, object] = {name: [getattr(m, name) for m in messages] for name in columns}
    params |= {"cseqs": [m.sip_cseq for m in messages], "created": [m.created_at for m in messages]}
    params["inbound"] = Direction.INBOUND.value
    ids = {(call_id, cseq): pk for pk, call_id, cseq in execute(_statement(), params)}
    for message in messages:
        if key_of(message) in ids:
            message.pk = ids[key_of(message)]
            as_loaded(message)
    return {key_of(m) for m in messages if m.pk is None}


def _store_each(messages: list[PagerMessage]) -> set[Key]:
    """Elsewhere (SQLite): the batch in a transaction, or each on its own should one have been
    stored before, so that only that one is left out."""
    try:
        with transaction.atomic():
            PagerMessage.objects.bulk_create(messages)
        return set()
    except IntegrityError:
        if len(messages) == 1:
            messages[0].pk = None
            return {key_of(messages[0])}
        raced: set[Key] = set()
        for message in messages:
            message.pk = None
            raced |= _store_each([message])
        return raced


@functools.cache
def _statement() -> str:
    pager = table_of(PagerMessage)
    # The conflict target names the partial unique index inbound_message_once; its condition is
    # written out, not a parameter, for the planner to match it.
    return f"""
INSERT INTO {pager} (assignment_id, direction, local_impu, remote_uri, content_type, body, status, error,
    sip_call_id, sip_cseq, created_at)
SELECT assignment_id, %(inbound)s, local_impu, remote_uri, content_type, body, status, '', sip_call_id, sip_cseq,
    created_at
FROM unnest(%(assignment_id)s::bigint[], %(local_impu)s::text[], %(remote_uri)s::text[], %(content_type)s::text[],
    %(body)s::text[], %(status)s::text[], %(sip_call_id)s::text[], %(cseqs)s::integer[], %(created)s::timestamptz[])
    AS m(assignment_id, local_impu, remote_uri, content_type, body, status, sip_call_id, sip_cseq, created_at)
ON CONFLICT (direction, sip_call_id, sip_cseq) WHERE direction = '{Direction.INBOUND.value}' DO NOTHING
RETURNING id, sip_call_id, sip_cseq
"""  # noqa: S608 (names from the models, values as parameters)
