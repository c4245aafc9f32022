"""A conversation of many messages: its admin page shows the most recent ones, and links to all of
them, page by page, read-only."""

from __future__ import annotations

import pytest

from help_desk import chat
from help_desk.admin import RECENT_MESSAGES
from tests.factories import make_conversation, make_user

pytestmark = pytest.mark.django_db(transaction=True)  # the ring that makes a conversation waits for a commit
TOTAL = 160


def test_it_shows_the_most_recent_messages_and_pages_the_rest(client, settings):
    settings.HELP_CHAT_OVER_IMS = False  # stored at once, as they would be once they crossed the IMS
    help_request, jane, _ = make_conversation()
    chat.post_messages([chat.Post(help_request.pk, jane, f"question {n:04d}", f"c-{n}") for n in range(TOTAL)])
    client.force_login(make_user("admin", staff=True))
    page = client.get(f"/admin/help_desk/helprequest/{help_request.pk}/change/").content.decode()
    assert f"question {TOTAL - 1:04d}" in page
    assert f"question {TOTAL - RECENT_MESSAGES:04d}" in page
    assert f"question {TOTAL - RECENT_MESSAGES - 1:04d}" not in page
    everything = f"/admin/help_desk/helprequest/{help_request.pk}/chat/"
    assert f'The most recent {RECENT_MESSAGES} of {TOTAL} below; <a href="{everything}">' in page
    first = client.get(everything).content.decode()
    assert "Later messages" in first
    assert "Earlier messages" not in first
    second = client.get(f"{everything}?page=2").content.decode()
    assert "Earlier messages" in second
    assert "Later messages" not in second
    assert [n for n in range(TOTAL) if f"question {n:04d}<" in first] == list(range(100))  # oldest first
    assert [n for n in range(TOTAL) if f"question {n:04d}<" in second] == list(range(100, TOTAL))
    assert "<input" not in first.split("<table>")[1]  # the record of what was said: read-only
    client.force_login(make_user("outsider"))
    assert client.get(everything).status_code == 302  # to the admin's log-in, like its other pages
