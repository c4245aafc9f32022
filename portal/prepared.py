"""ORM queries compiled once, for the few hot paths where Django building a query cost more than
the database took to run it (an identity assignment spent most of its time in the compiler).

The ORM stays the one definition of each query: it is built once with sample parameters, and
its SQL is run again with each call's values put where the samples were. A query whose samples
cannot all be found among its compiled parameters (a backend that converts them, say), or
that gives other parameters from one build to the next (a time taken inside), is built by the
ORM on every call instead: slower, never wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet

_Slots = list[int | None]  # per compiled parameter: which sample it was, or None for a constant


class Prepared:
    """`Prepared(build, *samples)`: `build(*values)` returns a `values_list` QuerySet. Samples
    must be values no real call passes (e.g. a guest key of the wrong shape)."""

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
        if connection.vendor not in self.compiled:
            self.compiled[connection.vendor] = self._compile()
        compiled = self.compiled[connection.vendor]
        if compiled is None:
            return list(self.build(*values))
        sql, params, slots = compiled
        with connection.cursor() as cursor:
            cursor.execute(sql, [values[s] if s is not None else p for p, s in zip(params, slots, strict=True)])
            return list(cursor.fetchall())

    def instances(self, model: type[Model], *values: Any) -> list[Any]:
        """Rows of a `values_list(*concrete field attnames)` query as model instances."""
        names = [field.attname for field in model._meta.concrete_fields]
        return [model.from_db(connection.alias, names, row) for row in self.rows(*values)]


def _same(param: Any, sample: Any) -> bool:
    return type(param) is type(sample) and param == sample
