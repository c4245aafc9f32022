"""Transaction-scoped advisory locks, for work that must not run twice at once."""

from django.db import connection


def advisory_lock(key: int) -> None:
    """Held to the end of the transaction. SQLite needs none: it lets one writer in at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
