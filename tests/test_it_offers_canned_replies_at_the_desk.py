"""Each queue has canned replies (a title and a text, kept in the admin); at the desk's composer
the advisor picks one from a list, which puts its text in the message box to edit: it is sent
only when the advisor sends it. An advisor sees only their own queues' replies."""

from __future__ import annotations

import json
import re

import pytest

from help_desk.models import CannedReply, Queue
from tests.factories import make_advisor, make_queue, make_user
from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat, send


@pytest.mark.django_db
def test_the_desk_lists_the_replies_of_the_advisor_s_queues_only(client):
    mine = make_queue()
    other = Queue.objects.create(
        name="Pensions", slug="pensions", agreement=mine.agreement, identity_block=mine.identity_block
    )
    alex = make_advisor("alex", mine)
    CannedReply.objects.create(queue=mine, title="Greeting", text="Hello </script><b>!</b>")
    CannedReply.objects.create(queue=other, title="Not for Alex", text="...")
    client.force_login(alex.user)
    page = client.get("/desk/").content.decode()
    data = re.search(r'<script id="canned-replies" type="application/json">(.*?)</script>', page, re.S)
    assert data is not None
    assert json.loads(data.group(1)) == {str(mine.pk): [{"title": "Greeting", "text": "Hello </script><b>!</b>"}]}


@pytest.mark.django_db
def test_the_admin_keeps_them_with_the_queue(client):
    queue = make_queue()
    client.force_login(make_user("admin", staff=True))
    page = client.get(f"/admin/help_desk/queue/{queue.pk}/change/").content.decode()
    assert "Canned replies" in page


def test_a_canned_reply_is_put_in_the_composer_edited_and_sent(demo_server):
    with chromium() as browser:
        desk = advisor_desk(browser, demo_server)
        jane = jane_asks_for_chat(browser, demo_server)
        desk.locator("#ringing button", has_text="Accept").click()
        jane.locator("#status", has_text="You are talking with Alex Weber").wait_for()
        pane = desk.locator(".conversation").last
        pane.get_by_label("Canned reply").select_option(label="Pensions")
        box = pane.get_by_label("Message")
        assert box.input_value() == "Pensions and annuities go on line 5a; the taxable part of them on line 5b."
        desk.wait_for_timeout(500)
        assert pane.locator(".message").count() == 0  # choosing sends nothing
        assert jane.locator(".message").count() == 0
        box.press("End")
        box.press_sequentially(" Do you have the form at hand?")
        pane.get_by_role("button", name="Send").click()
        edited = (
            "Pensions and annuities go on line 5a; the taxable part of them on line 5b. Do you have the form at hand?"
        )
        jane.locator(".message.in .body", has_text=edited).wait_for()
        assert box.input_value() == ""
        screenshot(desk, "canned-reply")
        send(jane, "Yes, I do.")
        pane.locator(".message.in .body", has_text="Yes, I do.").wait_for()
