import pytest

from identity_blocks import actions
from identity_blocks.holders import Holder
from tests.factories import make_block, make_user

pytestmark = pytest.mark.django_db


def test_it_tells_mary_her_place_in_line_when_no_identity_is_free(client, settings):
    settings.IDENTITY_RETRY_AFTER_SECONDS = 20
    make_block(1)
    actions.assign_identity(Holder.member(make_user("advisor")))
    client.force_login(make_user("mary"))
    response = client.get("/identity/")
    assert response.status_code == 503
    assert response["Retry-After"] == "20"
    page = response.content.decode()
    assert "You are <strong>number 1</strong> in line" in page
    assert '<meta http-equiv="refresh" content="20">' in page


def test_it_sends_a_stranger_to_the_log_in_page(client):
    assert client.get("/identity/")["Location"].startswith("/accounts/login/")
