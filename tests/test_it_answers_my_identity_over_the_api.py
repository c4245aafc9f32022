import pytest

from identity_blocks import actions
from identity_blocks.holders import Holder
from tests.factories import make_block, make_user

pytestmark = pytest.mark.django_db


def test_it_gives_mary_her_identity(client):
    make_block(5)
    client.force_login(make_user("mary"))
    response = client.get("/api/me/identity")
    assert response.status_code == 200
    assert response.json()["impu"] == "sip:help-0000000@help.ims.example.net"
    assert response.json()["registration_state"] == "unregistered"
    assert client.get("/api/me/identity").json()["impu"] == response.json()["impu"]


def test_it_answers_503_with_retry_after_and_a_place_in_line_when_all_are_taken(client, settings):
    settings.IDENTITY_RETRY_AFTER_SECONDS = 45
    make_block(1)
    actions.assign_identity(Holder.member(make_user("advisor")))
    client.force_login(make_user("mary"))
    response = client.get("/api/me/identity")
    assert response.status_code == 503
    assert response["Retry-After"] == "45"
    assert response.json()["position"] == 1
    assert "No IMS identity is free" in response.json()["detail"]


def test_it_requires_a_log_in(client):
    assert client.get("/api/me/identity").status_code == 403
