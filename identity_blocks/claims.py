"""Claiming an identity of a block for a holder: an index (the member's previous one, the oldest
released one, or the block's next never used), counted against the agreement, and the assignment
row, all or nothing.

On PostgreSQL one statement does it all (a data-modifying WITH), so the block's and the
agreement's rows, which every concurrent assignment from the block must lock in turn, are locked
for one statement instead of a transaction of six round trips. That locked window, more than the
CPU, bounded assignments per second: with more processes than cores, the one holding the lock
was often not running. Elsewhere (SQLite: the demo) the same steps run one by one in a transaction.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Model

from identity_blocks.holders import Holder
from identity_blocks.models import BlockStatus, FreeIdentity, IdentityAssignment, IdentityBlock, ServiceAgreement
from portal.prepared import as_loaded, current, execute, table_of

# Set by the statement itself, not from the instance built in Python.
_CLAIMED = ("id", "block", "index", "impu")
# The backends whose SQL the one statement is written in (the tests run the other way on them too).
ONE_STATEMENT_ON = frozenset({"postgresql"})


def take_identity(block: IdentityBlock, holder: Holder) -> IdentityAssignment | None:
    """The new assignment, or None if the block or its agreement cannot take one. Raises
    IntegrityError if a concurrent request of the same holder got an identity first."""
    assignment = IdentityAssignment(block=block, sticky=holder.is_member, **holder.fields)
    db = current()
    if db.vendor not in ONE_STATEMENT_ON:
        return _take_step_by_step(assignment, holder)
    if not db.in_atomic_block:
        return _take_in_one_statement(assignment)
    with transaction.atomic():  # a savepoint: a conflict must not abort the caller's transaction
        return _take_in_one_statement(assignment)


def _take_in_one_statement(assignment: IdentityAssignment) -> IdentityAssignment | None:
    block = assignment.block
    definition = block.definition()
    family, listed = definition.family, (None if definition.family else list(definition.listed))
    fields = _rest_of(IdentityAssignment)
    params: dict[str, Any] = {
        "block": block.pk,
        "user": assignment.user_id,
        "active": BlockStatus.ACTIVE.value,
        "listed": listed,
        "prefix": family.prefix if family else "",
        "suffix": family.suffix if family else "",
        "first": family.first if family else 0,
        "width": family.width if family else 0,
    }
    db = current()
    for field in fields:
        params[field.attname] = field.get_db_prep_save(getattr(assignment, field.attname), db)
    rows = execute(_statement(), params)
    if not rows:
        return None
    assignment.pk, assignment.index, assignment.impu = rows[0]
    return as_loaded(assignment)


def _rest_of(model: type[Model]) -> list[Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if f.name not in _CLAIMED and isinstance(f, Field)]


@functools.cache
def _statement() -> str:
    quote = connection.ops.quote_name
    free, block = table_of(FreeIdentity), table_of(IdentityBlock)
    agreement, assignment = table_of(ServiceAgreement), table_of(IdentityAssignment)
    index = quote("index")
    rest = _rest_of(IdentityAssignment)
    columns = ", ".join(quote(f.column) for f in rest)
    values = ", ".join(f"%({f.attname})s::{f.db_type(connection)}" for f in rest)
    # `freed` is read three times below, so it is run once and the row it locks is the one used.
    # An agreement at its limit gives back a fresh index; a freed one is only deleted once counted.
    return f"""
WITH previous AS (
    SELECT f.id, f.{index} FROM {free} f
    WHERE f.block_id = %(block)s::bigint AND f.{index} = (
        SELECT a.{index} FROM {assignment} a WHERE a.block_id = %(block)s::bigint AND a.user_id = %(user)s::bigint
        ORDER BY a.released_at DESC NULLS LAST LIMIT 1)
    FOR UPDATE OF f SKIP LOCKED
), oldest AS (
    SELECT f.id, f.{index} FROM {free} f
    WHERE f.block_id = %(block)s::bigint AND NOT EXISTS (SELECT FROM previous)
    ORDER BY f.id LIMIT 1 FOR UPDATE OF f SKIP LOCKED
), freed AS (
    SELECT * FROM previous UNION ALL SELECT * FROM oldest
), claimed AS (
    UPDATE {block} SET next_index = next_index + (NOT EXISTS (SELECT FROM freed))::int
    WHERE id = %(block)s::bigint AND status = %(active)s::text AND (next_index < size OR EXISTS (SELECT FROM freed))
    RETURNING agreement_id, COALESCE((SELECT {index} FROM freed), next_index - 1) AS {index},
        (SELECT id FROM freed) AS free_id
), counted AS (
    UPDATE {agreement} SET live_assignments = live_assignments + 1
    WHERE id = (SELECT agreement_id FROM claimed) AND live_assignments < max_registrations
    RETURNING id
), taken AS (
    DELETE FROM {free} WHERE id = (SELECT free_id FROM claimed) AND EXISTS (SELECT FROM counted)
), given_back AS (
    INSERT INTO {free} (block_id, {index})
    SELECT %(block)s::bigint, {index} FROM claimed WHERE free_id IS NULL AND NOT EXISTS (SELECT FROM counted)
)
INSERT INTO {assignment} (block_id, {index}, impu, {columns})
SELECT %(block)s::bigint, c.{index},
    CASE WHEN %(listed)s::text[] IS NULL
        THEN %(prefix)s::text || lpad(n.digits, greatest(%(width)s::int, length(n.digits)), '0') || %(suffix)s::text
        ELSE (%(listed)s::text[])[c.{index}::int + 1] END,
    {values}
FROM claimed c CROSS JOIN LATERAL (SELECT (%(first)s::bigint + c.{index})::text AS digits) n
WHERE EXISTS (SELECT FROM counted)
RETURNING id, {index}, impu
"""  # noqa: S608 (names from the models, values as parameters)


# Step by step, in a transaction -----------------------------------------------------------


class _Rollback(Exception):
    """Undo a claim whose last step found the block or the agreement unable to take it."""


def _take_step_by_step(assignment: IdentityAssignment, holder: Holder) -> IdentityAssignment | None:
    block = assignment.block
    try:
        with transaction.atomic():
            index = _claim_index(block, holder)
            if index is None:
                return None
            assignment.index, assignment.impu = index, block.impu(index)
            assignment.save(force_insert=True)
            _count_against_agreement(block.agreement_id)
            return assignment
    except _Rollback:
        return None


def _claim_index(block: IdentityBlock, holder: Holder) -> int | None:
    reused = _claim_released(block, holder)
    if reused is not None:
        _require_active(block)
        return reused
    row = _one(
        f"UPDATE {table_of(IdentityBlock)} SET next_index = next_index + 1 "  # noqa: S608 (names from the models)
        "WHERE id = %s AND next_index < size AND status = %s RETURNING next_index",
        [block.pk, BlockStatus.ACTIVE],
    )
    return int(row[0]) - 1 if row else None


def _claim_released(block: IdentityBlock, holder: Holder) -> int | None:
    if holder.is_member:
        previous = (
            IdentityAssignment.objects.filter(block=block, **holder.fields)
            .order_by("-released_at")
            .values_list("index", flat=True)
            .first()
        )
        if previous is not None and FreeIdentity.objects.filter(block=block, index=previous).delete()[0]:
            return previous
    table, index = table_of(FreeIdentity), connection.ops.quote_name("index")
    row = _one(
        f"DELETE FROM {table} WHERE id = (SELECT id FROM {table} WHERE block_id = %s ORDER BY id LIMIT 1) "  # noqa: S608
        f"RETURNING {index}",
        [block.pk],
    )
    return int(row[0]) if row else None


def _require_active(block: IdentityBlock) -> None:
    row = _one(f"SELECT status FROM {table_of(IdentityBlock)} WHERE id = %s", [block.pk])  # noqa: S608
    if row is None or row[0] != BlockStatus.ACTIVE:
        raise _Rollback


def _count_against_agreement(agreement_id: int) -> None:
    row = _one(
        f"UPDATE {table_of(ServiceAgreement)} SET live_assignments = live_assignments + 1 "  # noqa: S608
        "WHERE id = %s AND live_assignments < max_registrations RETURNING id",
        [agreement_id],
    )
    if row is None:
        raise _Rollback


def _one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    rows = execute(sql, params)
    return rows[0] if rows else None
