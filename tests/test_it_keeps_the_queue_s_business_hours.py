"""A queue's business hours, written as people write them and kept in the queue's time zone:
inside them the help page offers a line, outside them the message form, and a start is refused
with the hours; the admin refuses hours it cannot read."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from help_desk.hours import is_open, parse
from tests.factories import make_advisor, make_queue

BERLIN = "Europe/Berlin"


def _at(text: str) -> datetime:
    """A moment given in Berlin's local time (2026-12-07 is a Monday)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(BERLIN))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-12-07 09:00", True),  # Monday, opening
        ("2026-12-07 08:59", False),
        ("2026-12-11 16:59", True),  # Friday
        ("2026-12-11 17:00", False),  # closing is exclusive
        ("2026-12-12 11:00", True),  # Saturday morning
        ("2026-12-12 14:00", False),
        ("2026-12-13 11:00", False),  # Sunday
    ],
)
def test_it_is_open_within_the_hours_of_the_day(moment, expected):
    assert is_open("Mon-Fri 09:00-17:00; Sat 10:00-13:00", BERLIN, _at(moment)) is expected


def test_it_reads_the_hours_in_the_queue_s_zone_whatever_the_server_s():
    nine_in_berlin = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert is_open("Mon 09:00-10:00", BERLIN, nine_in_berlin)
    assert not is_open("Mon 09:00-10:00", "America/New_York", nine_in_berlin)


def test_it_reads_day_lists_and_runs_across_the_week_s_end():
    assert {d for span in parse("sat-mon 00:00-24:00") for d in span.days} == {5, 6, 0}
    assert {d for span in parse("Mon, Wed-Thu 18:00-20:00") for d in span.days} == {0, 2, 3}
    assert parse("") == []  # always open
    assert is_open("", BERLIN, _at("2026-12-13 03:00"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Mon-Fri 9-17", "write days and hours"),
        ("Mon-Fry 09:00-17:00", "days are written Mon"),
        ("Mon 17:00-09:00", "must end after they start"),
        ("Mon 25:00-26:00", "is not a time of day"),
    ],
)
def test_it_names_what_it_cannot_read(text, problem):
    with pytest.raises(ValidationError, match=problem):
        parse(text)


def _hours_around_now(open_now: bool) -> str:
    """All of today in Berlin, or an hour of tomorrow only."""
    now = timezone.now().astimezone(ZoneInfo(BERLIN))
    day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][(now.weekday() + (0 if open_now else 1)) % 7]
    return f"{day} 00:00-24:00" if open_now else f"{day} 09:00-10:00"


@pytest.mark.django_db
def test_it_offers_the_message_form_when_closed_and_a_line_when_open(client):
    queue = make_queue(5)
    make_advisor("advisor", queue, presence="available")
    queue.opening_hours = _hours_around_now(open_now=False)
    queue.save()
    page = client.get(reverse("help"), {"queue": queue.slug}).content.decode()
    assert f"{queue.name} is closed now. Opening hours: {queue.opening_hours} (Europe/Berlin time)." in page
    assert 'id="offline-form"' in page
    assert "Connect me" not in page
    refused = client.post(reverse("help-start"), {"queue": queue.slug, "mode": "chat"})
    assert refused.status_code == 400
    assert "is closed now" in refused.content.decode()

    queue.opening_hours = _hours_around_now(open_now=True)
    queue.save()
    page = client.get(reverse("help"), {"queue": queue.slug}).content.decode()
    assert "Connect me" in page
    assert client.post(reverse("help-start"), {"queue": queue.slug, "mode": "chat"}).status_code == 302


@pytest.mark.django_db
def test_the_admin_refuses_hours_it_cannot_read(admin_client):
    queue = make_queue(5)
    url = reverse("admin:help_desk_queue_change", args=[queue.pk])
    form = {
        "name": queue.name, "slug": queue.slug, "agreement": queue.agreement.pk,
        "identity_block": queue.identity_block.pk, "embedding_origins": "",
        "opening_hours": "Mon-Fri 9 to 5", "time_zone": "Europe/Atlantis",
    }  # fmt: skip
    page = admin_client.post(url, form).content.decode()
    assert "write days and hours, e.g. Mon-Fri 09:00-17:00." in page
    assert "is not a time zone (e.g. Europe/Berlin)." in page
