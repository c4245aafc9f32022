"""Wrong passwords for one user name from one address lock that pair out of both log-in pages
for the cool-off (django-axes); the user from elsewhere, and other users from the same address,
still log in, and a success resets the count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from tests.factories import make_user

pytestmark = pytest.mark.django_db

GUESSER = "203.0.113.9"
PAGES = ["/accounts/login/", "/admin/login/"]


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def log_in(page: str, username: str, password: str, address: str = GUESSER) -> Any:
    meta: dict[str, Any] = {"REMOTE_ADDR": address}
    return Client().post(page, {"username": username, "password": password, "next": "/"}, **meta)


def guess(page: str, username: str, times: int) -> list[int]:
    return [log_in(page, username, f"guess-{n}").status_code for n in range(times)]


@pytest.mark.parametrize("page", PAGES)
def test_it_locks_a_user_name_after_five_wrong_passwords_from_one_address(page):
    make_user("mary", staff=True)
    assert guess(page, "mary", 5) == [200, 200, 200, 200, 429]  # the form again with its error, then locked
    locked = log_in(page, "mary", "mary-password")  # the right one, too late
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    text = locked.content.decode()
    assert "Too many failed log-ins" in text
    assert "15 minutes" in text


@pytest.mark.parametrize("page", PAGES)
def test_it_still_lets_others_in_while_one_is_locked(page):
    make_user("mary", staff=True)
    make_user("advisor", staff=True)
    guess(page, "mary", 6)
    assert log_in(page, "advisor", "advisor-password").status_code == 302
    assert log_in(page, "mary", "mary-password", address="198.51.100.7").status_code == 302


def test_it_locks_both_pages_together():
    make_user("mary", staff=True)
    guess("/accounts/login/", "mary", 3)
    guess("/admin/login/", "mary", 2)
    assert log_in("/admin/login/", "mary", "mary-password").status_code == 429
    assert log_in("/accounts/login/", "mary", "mary-password").status_code == 429


def test_it_lets_her_in_again_after_the_cool_off():
    make_user("mary")
    guess("/accounts/login/", "mary", 5)
    assert log_in("/accounts/login/", "mary", "mary-password").status_code == 429
    failures = apps.get_model("axes", "AccessAttempt").objects  # django-axes's record of them
    failures.update(attempt_time=failures.get().attempt_time - timedelta(minutes=16))
    assert log_in("/accounts/login/", "mary", "mary-password").status_code == 302


def test_it_starts_counting_again_after_a_success():
    make_user("mary")
    guess("/accounts/login/", "mary", 4)
    assert log_in("/accounts/login/", "mary", "mary-password").status_code == 302
    guess("/accounts/login/", "mary", 4)
    assert log_in("/accounts/login/", "mary", "mary-password").status_code == 302
