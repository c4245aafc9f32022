"""A member's identity is given when she logs in, never as a side effect of viewing a page; one who
only administers the portal takes none at log-in; the identity page asks for one with a POST."""

import pytest

from identity_blocks import actions
from identity_blocks.models import IdentityAssignment, IdentityWait
from tests.factories import make_block, make_user

pytestmark = pytest.mark.django_db


def _log_in(client, username):
    response = client.post("/accounts/login/", {"username": username, "password": f"{username}-password"})
    assert response.status_code == 302


def test_it_assigns_mary_s_identity_when_she_logs_in(client):
    make_block(5, audience="members")
    make_user("mary")
    _log_in(client, "mary")
    assignment = IdentityAssignment.objects.live().get(user__username="mary")
    page = client.get("/identity/").content.decode()
    assert assignment.impu in page


def test_it_gives_none_on_a_page_view_and_one_when_asked(client):
    first = make_block(5, audience="members")
    make_user("mary")
    _log_in(client, "mary")
    actions.expire_block(first.pk, reason="lease ended")  # her identity goes with its block
    make_block(5, audience="members")
    page = client.get("/identity/")
    assert page.status_code == 200
    assert "Get an identity" in page.content.decode()
    assert not IdentityAssignment.objects.live().exists()

    client.post("/identity/ask/")
    assert IdentityAssignment.objects.live().filter(user__username="mary").exists()
    assert client.get("/identity/ask/").status_code == 405


def test_it_puts_her_in_line_at_log_in_when_none_is_free(client):
    make_block(1, audience="members")
    make_user("outsider")
    _log_in(client, "outsider")
    make_user("mary")
    _log_in(client, "mary")
    assert IdentityWait.objects.filter(user__username="mary", served_at=None).exists()
    page = client.get("/identity/")
    assert page.status_code == 503
    assert "number 1" in page.content.decode()


def test_it_gives_none_to_one_who_only_administers(client):
    make_block(5, audience="members")
    make_user("admin", staff=True)
    _log_in(client, "admin")
    assert not IdentityAssignment.objects.exists()
    assert not IdentityWait.objects.exists()
