"""portal.prepared reads timestamps with psycopg's compiled loader, not Django's Python one, and
must give what the ORM gives: the same instant, aware, in the tzinfo Django uses."""

import datetime

import pytest
from django.db import connection
from psycopg.pq import Format

from identity_blocks.models import Operator
from portal.prepared import Prepared, _server_cursor, current, execute, fields_of

pytestmark = pytest.mark.django_db


def test_it_reads_a_stored_time_as_the_orm_does():
    operator = Operator.objects.create(name="Alpha", home_domain="alpha.test", realm="alpha.test")
    by_name = Prepared(lambda name: Operator.objects.filter(name=name).values_list(*fields_of(Operator)), "\x00name")
    (prepared,) = by_name.instances(Operator, "Alpha")
    orm = Operator.objects.get(pk=operator.pk)
    assert prepared.created_at == orm.created_at
    assert prepared.created_at.tzinfo is orm.created_at.tzinfo


def test_it_reads_times_in_utc_with_djangos_tzinfo():
    moment = datetime.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    ((loaded,),) = execute("SELECT %s::timestamptz", [moment])
    assert loaded == moment
    assert loaded.tzinfo is connection.timezone is datetime.UTC


def test_it_uses_the_compiled_loader():
    assert connection.vendor == "postgresql"  # the suite runs on PostgreSQL (scripts/services.sh)
    loader = _server_cursor(current()).adapters.get_loader(1184, Format.TEXT)  # 1184: timestamptz
    assert loader is not None
    assert loader.__module__.startswith("psycopg_binary")
