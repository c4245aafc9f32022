"""axe-core (WCAG 2.1 A and AA, and its best practices) finds no violation on the pages people
use: the help page, Jane's conversation, the advisor's desk with a conversation open and its
inbox, Mary's identity page and her history; on a desktop window and at 390 px wide, as a phone
shows them, in English and in German."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.axe import violations
from tests.support.browser import chromium
from tests.support.helpdesk_browser import WORDS, advisor_desk, chat_both_ways, jane_asks_for_chat

PHONE = {"width": 390, "height": 844}


def _mary(context: Any, base: str, language: str) -> Any:
    words = WORDS[language]
    page = context.new_page()
    page.goto(base + "/accounts/login/?next=/identity/")
    page.get_by_label(words["user"]).fill("mary")
    page.get_by_label(words["password"]).fill("mary-demo")
    page.get_by_role("button", name=words["log in"]).click()
    page.locator("body[data-live=yes]").wait_for()
    return page


def _chat_in_german(jane: Any, desk: Any) -> None:
    desk.locator("#ringing").get_by_role("button", name="Annehmen").click()
    jane.locator("#status", has_text="Sie sprechen mit").wait_for()
    jane.get_by_label("Nachricht").fill("Wo trage ich meine Rente ein?")
    jane.get_by_role("button", name="Senden").click()
    pane = desk.locator(".conversation").last
    pane.locator(".message.in .body", has_text="Wo trage ich meine Rente ein?").wait_for()
    jane.locator(".message.out .status", has_text="gelesen").wait_for()


@pytest.mark.parametrize(
    ("viewport", "language"),
    [(None, "en"), (PHONE, "en"), (None, "de"), (PHONE, "de")],
    ids=["desktop", "390px", "desktop-de", "390px-de"],
)
def test_it_finds_no_violation(demo_server, viewport, language):
    with chromium() as browser:
        options = {"viewport": viewport} if viewport else {}
        if language == "de":
            options["locale"] = "de-DE"
        desk = advisor_desk(browser, demo_server, context=browser.new_context(**options), language=language)
        connect = "Verbinden" if language == "de" else "Connect me"
        jane = jane_asks_for_chat(browser, demo_server, context=browser.new_context(**options), connect=connect)
        if language == "de":
            _chat_in_german(jane, desk)
        else:
            chat_both_ways(jane, desk, f"axe-{'phone' if viewport else 'desktop'}")
        help_page = browser.new_context(**options).new_page()
        help_page.goto(demo_server + "/help/")
        mary = _mary(browser.new_context(**options), demo_server, language)
        found = [*violations(help_page), *violations(jane), *violations(desk), *violations(mary)]
        desk.goto(demo_server + "/desk/inbox/")
        found += violations(desk)
        for history in ("/identity/messages/", "/identity/calls/"):
            mary.goto(demo_server + history)
            found += violations(mary)
        assert found == []


def test_it_would_report_a_violation(demo_server):
    with chromium() as browser:
        page = browser.new_page()
        page.goto(demo_server + "/help/")
        page.evaluate("document.querySelector('main').append(document.createElement('img'))")  # no alt
        assert any(" image-alt " in violation for violation in violations(page))
