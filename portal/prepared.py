"""ORM queries compiled once, for the few hot paths where Django building a query cost more than
the database took to run it (an identity assignment, a chat batch crossing the IMS).

The ORM stays the one definition of each query: it is built once with sample parameters, and
its SQL is run again with each call's values put where the samples were. A query whose samples
cannot all be found among its compiled parameters (a backend that converts them, say), or
that gives other parameters from one build to the next (a time taken inside), is built by the
ORM on every call instead: slower, never wrong.

On PostgreSQL the SQL also runs as a server-side prepared statement, so the server parses and
plans it once per connection too; and `field__any=[...]` (`= ANY(%s)`, one array parameter)
lets a batch of any size share one statement where `__in` would make one per size.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignObject, Model, QuerySet
from django.db.models.lookups import In
from psycopg.types.datetime import TimestamptzLoader

_Slots = list[int | None]  # per compiled parameter: which sample it was, or None for a constant


class AnyOf(In):  # type: ignore[type-arg]
    """`field__any=values`: `field IN (...)` as one array parameter on PostgreSQL."""

    lookup_name = "any"

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        if self.rhs_is_direct_value() is False or hasattr(self.rhs, "resolve_expression"):
            sql, subquery_params = self.as_sql(compiler, connection)  # IN (SELECT ...) as __in does
            return sql, list(subquery_params)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = [value for value in dict.fromkeys(self.rhs) if value is not None]
        _, params = self.batch_process_rhs(compiler, connection, values)  # type: ignore[arg-type]
        return f"{lhs} = ANY(%s)", [*lhs_params, list(params)]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # related fields look only as far up as ForeignObject


def current() -> BaseDatabaseWrapper:
    """The default connection itself. Every attribute read through `django.db.connection` looks
    the connection up again in asgiref's context-local storage (1.3 us on this machine's kind): a
    hot statement's path read it a dozen times, an assignment 36 times, 9 % of its client CPU."""
    return connections[DEFAULT_DB_ALIAS]


def execute(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run one statement (`%s` or `%(name)s` parameters); its rows, if it returns any. On
    PostgreSQL through a server-binding cursor, which psycopg prepares from the connection's
    `prepare_threshold`-th run on (see portal.env); Django's own cursors bind on the client and
    never prepare."""
    db = current()
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
    raw = _server_cursor(db)
    # Wrapped as connection.cursor() wraps its own: same transaction, errors translated,
    # queries logged and counted (tests, the debug toolbar) like any other.
    db._prepare_cursor(raw).execute(sql, params)  # type: ignore[attr-defined]
    # Not `description`: it builds a column object per column on every call.
    return raw.fetchall() if raw.pgresult is not None and raw.pgresult.nfields else []


def undone_on_error() -> AbstractContextManager[object]:
    """Around a statement that may fail (a resend breaking a unique constraint): outside a
    transaction (a server's batches) the statement is its own; inside one, a savepoint, so that
    the error leaves the caller's transaction usable for the careful way."""
    return transaction.atomic() if current().in_atomic_block else nullcontext()


_M = TypeVar("_M", bound=Model)


def as_loaded(instance: _M) -> _M:
    """An instance a statement stored: saved, on this connection, as if read from it."""
    instance._state.adding, instance._state.db = False, DEFAULT_DB_ALIAS  # django.db.connection's
    return instance


def _server_cursor(db: BaseDatabaseWrapper) -> psycopg.Cursor[Any]:
    """One per connection, kept: a fresh cursor set up its type loaders again on every call."""
    db.ensure_connection()
    cursor: psycopg.Cursor[Any] | None = getattr(db, "_portal_cursor", None)
    if cursor is None or cursor.closed or cursor.connection is not db.connection:
        cursor = psycopg.Cursor(db.connection)
        if db.timezone is datetime.UTC:
            # Django loads timestamps with a Python subclass of psycopg's loader that sets the
            # tzinfo it keeps (4 us a value; psycopg's own, compiled, 0.5). In a session on UTC,
            # as Django keeps it then, psycopg's gives the same values with the same tzinfo.
            cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        db._portal_cursor = cursor  # type: ignore[attr-defined]
    return cursor


class Prepared:
    """`Prepared(build, *samples)`: `build(*values)` returns a `values_list` QuerySet. Samples
    must be values no real call passes (e.g. a guest key of the wrong shape); a list sample
    (for `__any`) is a list of one such value."""

    def __init__(self, build: Callable[..., QuerySet[Any, Any]], *samples: Any) -> None:
        self.build, self.samples = build, samples
        self.compiled: dict[str, tuple[str, list[Any], _Slots] | None] = {}

    def _compile(self) -> tuple[str, list[Any], _Slots] | None:
        sql, params = self.build(*self.samples).query.sql_with_params()
        slots = [next((n for n, s in enumerate(self.samples) if _same(p, s)), None) for p in params]
        if {slot for slot in slots if slot is not None} != set(range(len(self.samples))):
            return None
        # A constant that changes between two builds (a now() taken inside) must not be kept.
        if (sql, params) != self.build(*self.samples).query.sql_with_params():
            return None
        return sql, list(params), slots

    def rows(self, *values: Any) -> list[tuple[Any, ...]]:
        vendor = current().vendor
        if vendor not in self.compiled:
            self.compiled[vendor] = self._compile()
        compiled = self.compiled[vendor]
        if compiled is None:
            return list(self.build(*values))
        sql, params, slots = compiled
        return execute(sql, [_value(values[s]) if s is not None else p for p, s in zip(params, slots, strict=True)])

    def instances(self, model: type[Model], *values: Any, related: str = "", extra: Sequence[str] = ()) -> list[Any]:
        """Rows of a `values_list(*fields_of(model))` query as model instances. With `related`
        (a foreign key's name) the query selects `*fields_of(its model, related)` next, and the
        related instance is put in place as select_related would; `extra` names the columns
        after those (annotations), set as attributes."""
        names = fields_of(model)
        other = model._meta.get_field(related).related_model if related else None
        other = other if isinstance(other, type) and issubclass(other, Model) else None
        others = fields_of(other) if other else []
        made = []
        for row in self.rows(*values):
            instance = model.from_db(DEFAULT_DB_ALIAS, names, row[: len(names)])
            if other:
                rest = row[len(names) : len(names) + len(others)]
                setattr(instance, related, other.from_db(DEFAULT_DB_ALIAS, others, rest) if rest[0] else None)
            for name, value in zip(extra, row[len(names) + len(others) :], strict=True):
                setattr(instance, name, value)
            made.append(instance)
        return made


def table_of(model: type[Model]) -> str:
    """The model's table, quoted for the connection's SQL."""
    return current().ops.quote_name(model._meta.db_table)


def update_each(model: type[Model], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """`UPDATE` each `(pk, *values)` row's `names` in one statement: on PostgreSQL from arrays,
    so that one prepared statement serves any number of rows (bulk_update builds a CASE per row,
    which cost more than the rest of a chat batch)."""
    if not rows:
        return
    db = current()
    quote = db.ops.quote_name
    fields = [model._meta.pk, *(model._meta.get_field(name) for name in names)]
    columns = [field.column for field in fields if isinstance(field, Field)]
    table, key = table_of(model), quote(columns[0])
    sets = ", ".join(f"{quote(column)} = v.column{n}" for n, column in enumerate(columns[1:], 2))
    if db.vendor == "postgresql":
        arrays = ", ".join(f"%s::{field.db_type(db)}[]" for field in fields if isinstance(field, Field))
        aliases = ", ".join(f"column{n}" for n in range(1, len(fields) + 1))
        source, params = f"unnest({arrays}) AS v({aliases})", [list(column) for column in zip(*rows, strict=True)]
    else:
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        source, params = f"(VALUES {', '.join([one] * len(rows))}) AS v", [value for row in rows for value in row]
    execute(f"UPDATE {table} SET {sets} FROM {source} WHERE {table}.{key} = v.column1", params)  # noqa: S608


def fields_of(model: type[Model], through: str = "") -> list[str]:
    """What `values_list` must select for `Prepared.instances` (`through` a foreign key)."""
    names = [field.attname for field in model._meta.concrete_fields]
    return [f"{through}__{name}" for name in names] if through else names


def _value(value: Any) -> Any:
    return list(value) if isinstance(value, set | frozenset | tuple) else value


def _same(param: Any, sample: Any) -> bool:
    return type(param) is type(sample) and param == sample


def generic_plans(sender: object, connection: Any, **kwargs: object) -> None:
    """On each new PostgreSQL connection (connection_created, in autocommit, so that no rollback
    undoes it): only this module's statements are prepared on the server, and each is written
    for a generic plan (keys through indexes, partial indexes' conditions written out). Left to
    choose, PostgreSQL planned the chat statements afresh on every run, since a custom plan for
    one message looks cheaper than a generic plan for any number; that planning was half of
    what the server spent on a post."""
    if connection.vendor == "postgresql" and connection.connection.prepare_threshold is not None:
        with connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
