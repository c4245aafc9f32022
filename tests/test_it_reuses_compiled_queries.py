"""portal.prepared: a hot query is built by the ORM once and its SQL run again with each call's
values; a query that would bake in something that changes (a time taken inside) is not kept."""

import pytest
from django.db import connection
from django.utils import timezone

from identity_blocks.models import Operator, ServiceAgreement
from portal.prepared import Prepared, fields_of, update_each

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


def test_it_serves_a_batch_of_any_size_with_one_statement(django_assert_num_queries):
    _operators()
    by_names = Prepared(lambda names: Operator.objects.filter(name__any=names).values_list("name"), ["\x00name"])
    with django_assert_num_queries(2) as captured:
        assert by_names.rows(["Beta"]) == [("Beta",)]
        assert sorted(by_names.rows(["Alpha", "Gamma", "Nobody"])) == [("Alpha",), ("Gamma",)]
    assert by_names.rows([]) == []
    beta = Operator.objects.filter(name="Beta").values("pk")
    assert list(Operator.objects.filter(pk__any=beta).values_list("name", flat=True)) == ["Beta"]  # as __in would
    if connection.vendor == "postgresql":  # one array parameter: the same SQL whatever the size
        assert len({query["sql"].split("WHERE")[1].split("=")[0] for query in captured.captured_queries}) == 1
        assert all("ANY" in query["sql"] for query in captured.captured_queries)


def test_it_updates_each_row_in_one_statement(django_assert_num_queries):
    _operators()
    rows = {o.name: o.pk for o in Operator.objects.all()}
    with django_assert_num_queries(1):
        update_each(
            Operator, ["home_domain", "realm"], [(rows["Alpha"], "a.example", "A"), (rows["Gamma"], "g.example", "G")]
        )
    assert dict(Operator.objects.values_list("name", "home_domain")) == {
        "Alpha": "a.example", "Beta": "beta.test", "Gamma": "g.example"
    }  # fmt: skip
    assert Operator.objects.get(name="Gamma").realm == "G"


def test_it_gives_the_related_instance_as_select_related_would():
    _operators()
    alpha = Operator.objects.get(name="Alpha")
    agreement = ServiceAgreement.objects.create(
        operator=alpha, name="Tax", third_party="Tax advisor", max_registrations=10, max_sessions=10
    )
    with_operator = Prepared(
        lambda ids: ServiceAgreement.objects.filter(pk__any=ids).values_list(
            *fields_of(ServiceAgreement), *fields_of(Operator, "operator")
        ),
        [-1],
    )
    (found,) = with_operator.instances(ServiceAgreement, [agreement.pk], related="operator")
    assert found == agreement
    assert found._state.fields_cache["operator"] == alpha  # no query left to load it


def test_it_runs_its_statements_with_generic_plans_on_postgresql():
    """A custom plan per run re-planned the chat statements every time; its statements are
    written for a generic plan, and only they are prepared on the server."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)
