"""portal.prepared: a hot query is built by the ORM once and its SQL run again with each call's
values; a query that would bake in something that changes (a time taken inside) is not kept."""

import pytest
from django.utils import timezone

from identity_blocks.models import Operator
from portal.prepared import Prepared

pytestmark = pytest.mark.django_db


def _operators():
    for name in ("Alpha", "Beta", "Gamma"):
        Operator.objects.create(name=name, home_domain=f"{name.lower()}.test", realm=f"{name.lower()}.test")


def test_it_builds_once_and_answers_each_call_with_its_own_values():
    _operators()
    builds = []

    def build(name):
        builds.append(name)
        return Operator.objects.filter(name=name).values_list("home_domain")

    by_name = Prepared(build, "\x00name")
    assert by_name.rows("Beta") == [("beta.test",)]
    assert by_name.rows("Gamma") == [("gamma.test",)]
    assert by_name.rows("Nobody") == []
    assert builds == ["\x00name", "\x00name"]  # built (twice, to compare) for its SQL, then only run


def test_it_does_not_keep_a_query_that_takes_the_time_itself():
    _operators()
    builds = []

    def build(name):
        builds.append(name)
        return Operator.objects.filter(name=name, created_at__lte=timezone.now()).values_list("name")

    recent = Prepared(build, "\x00name")
    assert recent.rows("Alpha") == [("Alpha",)]
    assert recent.rows("Beta") == [("Beta",)]
    assert builds[-2:] == ["Alpha", "Beta"]  # the ORM builds it on every call instead


def test_it_gives_model_instances():
    _operators()
    fields = [f.attname for f in Operator._meta.concrete_fields]
    by_name = Prepared(lambda name: Operator.objects.filter(name=name).values_list(*fields), "\x00name")
    (beta,) = by_name.instances(Operator, "Beta")
    assert beta == Operator.objects.get(name="Beta")
    assert beta.home_domain == "beta.test"
