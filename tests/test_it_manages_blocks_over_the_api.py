import pytest

from tests.factories import make_agreement, make_user

pytestmark = pytest.mark.django_db


def _payload(agreement, **fields):
    return {
        "operator": agreement.operator_id,
        "agreement": agreement.pk,
        "name": "Help desk",
        "kind": "sip_range",
        "pattern": "sip:help-{n:04d}@help.ims.example.net",
        "first": 1,
        "last": 500,
        **fields,
    }


def test_it_lets_admins_create_blocks_and_see_their_usage(client):
    client.force_login(make_user("admin", staff=True))
    agreement = make_agreement()
    created = client.post("/api/blocks", _payload(agreement), content_type="application/json")
    assert created.status_code == 201, created.json()
    listed = client.get("/api/blocks").json()
    assert [(b["name"], b["size"], b["assigned"]) for b in listed] == [("Help desk", 500, 0)]
    assert "ha1_md5" not in listed[0]


def test_it_explains_a_bad_definition(client):
    client.force_login(make_user("admin", staff=True))
    response = client.post("/api/blocks", _payload(make_agreement(), first=600), content_type="application/json")
    assert response.status_code == 400
    assert "empty or inverted" in response.json()["definition"][0]


def test_it_keeps_blocks_and_agreements_from_everyone_else(client):
    client.force_login(make_user("outsider"))
    assert client.get("/api/blocks").status_code == 403
    assert client.get("/api/agreements").status_code == 403


def test_it_publishes_an_openapi_schema(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/me/identity" in schema
    assert "/api/blocks" in schema
