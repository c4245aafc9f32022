"""PostgreSQL takes the assignments table's statistics again after every thousand changes, not
after a tenth of the table: the generic plans of the identity lookups are made from them."""

import pytest
from django.db import connection

from identity_blocks.models import IdentityAssignment

pytestmark = pytest.mark.django_db


def test_it_has_autovacuum_analyze_the_assignments_after_a_thousand_changes():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [IdentityAssignment._meta.db_table])
        options = set(cursor.fetchone()[0] or [])

    assert {"autovacuum_analyze_scale_factor=0", "autovacuum_analyze_threshold=1000"} <= options
