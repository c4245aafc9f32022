"""The IMS core's answers to outbound MESSAGEs, recorded in one statement on PostgreSQL.

A batch of answers was a transaction of four round trips (begin, lock and read the messages
with their identities, update them, commit) on the IMS side's one database thread, for what at
moderate rates is one answer. On PostgreSQL it is one `UPDATE ... FROM unnest(...) RETURNING`
in autocommit. Only the process that sent a MESSAGE hears its answer, so no two batches update
the same rows at once.
"""

from __future__ import annotations

import functools

from django.db import DEFAULT_DB_ALIAS, connection, transaction

from identity_blocks.models import IdentityAssignment
from ims.models import Direction, PagerMessage
from portal.prepared import Prepared, execute, fields_of, table_of, update_each

ONE_STATEMENT_ON = frozenset({"postgresql"})
Decided = dict[int, tuple[str, str]]  # by message id: its status and error


def record(decided: Decided) -> dict[int, PagerMessage]:
    """Each outbound message named, with its assignment, as it now stands; the rest are missing."""
    if not decided:
        return {}
    if connection.vendor in ONE_STATEMENT_ON:
        ids = list(decided)
        rows = execute(_statement(), [ids, *(list(c) for c in zip(*decided.values(), strict=True)), ids])
        return {m.pk: m for m in map(_loaded, rows)}
    with transaction.atomic():
        found = _OUTBOUND_LOCKED.instances(PagerMessage, list(decided), related="assignment")
        for message in found:
            message.status, message.error = decided[message.pk]
        update_each(PagerMessage, ["status", "error"], [(m.pk, m.status, m.error) for m in found])
    return {m.pk: m for m in found}


# With its assignment, whose holder's sockets hear of the outcome.
_OUTBOUND_LOCKED = Prepared(
    lambda ids: (
        PagerMessage.objects.select_for_update(of=("self",))
        .filter(pk__any=ids, direction=Direction.OUTBOUND)
        .order_by("pk")
        .values_list(*fields_of(PagerMessage), *fields_of(IdentityAssignment, "assignment"))
    ),
    [-1],
)


def _loaded(row: tuple[object, ...]) -> PagerMessage:
    names, related = fields_of(PagerMessage), fields_of(IdentityAssignment)
    message = PagerMessage.from_db(DEFAULT_DB_ALIAS, names, row[: len(names)])
    message.assignment = IdentityAssignment.from_db(DEFAULT_DB_ALIAS, related, row[len(names) :])
    return message


@functools.cache
def _statement() -> str:
    pager, identity = table_of(PagerMessage), table_of(IdentityAssignment)
    quote = connection.ops.quote_name
    columns = ", ".join(
        f"{alias}.{quote(field.column)}"
        for alias, model in (("p", PagerMessage), ("a", IdentityAssignment))
        for field in model._meta.concrete_fields
    )
    # `p.id = ANY(...)` as well as the join: the messages by their key, whatever the planner
    # believes of the table's size (a generic plan made while it was small would scan it).
    return f"""
UPDATE {pager} p SET status = v.status, error = v.error
FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, status, error), {identity} a
WHERE p.id = v.id AND p.id = ANY(%s::bigint[]) AND p.direction = '{Direction.OUTBOUND.value}'
    AND a.id = p.assignment_id
RETURNING {columns}
"""  # noqa: S608 (names from the models, values as parameters)
