"""The desk's card of a ringing request, and the pane of an open conversation, say which page of
the embedding site the customer asked from (host and path, as text) and how long she waited.
Only pages of the queue's own sites (or the portal's) are kept, without their query; a page
named by anything but http(s), or on another site, is not kept at all."""

from __future__ import annotations

import re

import pytest

from help_desk.came_from import shown
from help_desk.models import HelpRequest
from tests.factories import make_advisor, make_queue
from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat

ALLOWED = ("https://tax.example.com", "http://127.0.0.1:8000")


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://tax.example.com/return/step-3?ssn=123#top", "tax.example.com/return/step-3"),
        ("https://tax.example.com", "tax.example.com/"),
        ("javascript:alert(1)//https://tax.example.com/", ""),
        ("data:text/html,<b>hi</b>", ""),
        ("https://evil.example.net/tax.example.com/", ""),
        ("https://tax.example.com.evil.example.net/", ""),
        ("http://[::1", ""),
        ("https://tax.example.com/" + "a" * 700, ""),
        ("https://tax.example.com/<script>", "tax.example.com/<script>"),  # kept as text; the desk shows text
    ],
)
def test_it_keeps_only_the_host_and_path_of_an_allowed_site(url, kept):
    assert shown(url, ALLOWED) == kept


@pytest.mark.django_db
def test_it_stores_the_page_the_help_page_was_opened_from(client):
    queue = make_queue()
    queue.embedding_origins = "https://tax.example.com"
    queue.save()
    make_advisor("alex", queue, presence="available")  # the help page offers the start form
    page = client.get(f"/help/?queue={queue.slug}", HTTP_REFERER="https://tax.example.com/step-3?income=5").content
    assert b'name="came_from" value="https://tax.example.com/step-3"' in page
    # Where the site sends only its origin as Referer, the button's `page` says the path.
    page = client.get(
        f"/help/?queue={queue.slug}&origin=https://tax.example.com&page=/step-4",
        HTTP_REFERER="https://tax.example.com/",
    ).content
    assert b'value="https://tax.example.com/step-4"' in page
    client.post("/help/start/", {"queue": queue.slug, "mode": "chat", "came_from": "https://tax.example.com/step-3"})
    assert HelpRequest.objects.get().came_from == "tax.example.com/step-3"


@pytest.mark.django_db
def test_it_stores_nothing_of_a_page_on_another_site(client):
    queue = make_queue()
    client.post("/help/start/", {"queue": queue.slug, "mode": "chat", "came_from": "https://evil.example.net/x"})
    assert HelpRequest.objects.get().came_from == ""


def test_the_card_and_the_conversation_say_where_she_came_from(demo_server):
    with chromium() as browser:
        desk = advisor_desk(browser, demo_server)
        jane_asks_for_chat(browser, demo_server)
        card = desk.locator("#ringing li")
        card.get_by_text(re.compile(r"^from 127\.0\.0\.1:\d+/demo/tax-site/$")).wait_for()
        card.get_by_text("waiting less than a minute").wait_for()
        assert desk.locator("#ringing a").count() == 0  # text, never a link
        desk.locator("#line li", has_text="/demo/tax-site/").wait_for()
        screenshot(desk, "came-from-card")
        card.get_by_role("button", name="Accept").click()
        pane = desk.locator(".conversation").last
        pane.get_by_text(
            re.compile(r"^Asked from 127\.0\.0\.1:\d+/demo/tax-site/ · waited less than a minute$")
        ).wait_for()
