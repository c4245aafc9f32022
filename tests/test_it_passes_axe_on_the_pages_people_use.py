"""axe-core (WCAG 2.1 A and AA, and its best practices) finds no violation on the pages people
use: the help page, Jane's conversation, the advisor's desk with a conversation open, Mary's
identity page and her history; on a desktop window and at 390 px wide, as a phone shows them."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

from tests.support.browser import chromium
from tests.support.helpdesk_browser import advisor_desk, chat_both_ways, jane_asks_for_chat

RULES = {"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}
PHONE = {"width": 390, "height": 844}


def _violations(page: Any) -> list[str]:
    found = Axe().run(page, options=RULES).response
    assert found["passes"], "axe checked nothing"
    return [f"{page.url}: {v['id']} {[n['target'] for n in v['nodes']][:3]}" for v in found["violations"]]


def _mary(context: Any, base: str) -> Any:
    page = context.new_page()
    page.goto(base + "/accounts/login/?next=/identity/")
    page.get_by_label("User name").fill("mary")
    page.get_by_label("Password").fill("mary-demo")
    page.get_by_role("button", name="Log in").click()
    page.locator("body[data-live=yes]").wait_for()
    return page


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "390px"])
def test_it_finds_no_violation(demo_server, viewport):
    with chromium() as browser:
        options = {"viewport": viewport} if viewport else {}
        desk = advisor_desk(browser, demo_server, context=browser.new_context(**options))
        jane = jane_asks_for_chat(browser, demo_server, context=browser.new_context(**options))
        chat_both_ways(jane, desk, f"axe-{'phone' if viewport else 'desktop'}")
        help_page = browser.new_context(**options).new_page()
        help_page.goto(demo_server + "/help/")
        mary = _mary(browser.new_context(**options), demo_server)
        found = [*_violations(help_page), *_violations(jane), *_violations(desk), *_violations(mary)]
        for history in ("/identity/messages/", "/identity/calls/"):
            mary.goto(demo_server + history)
            found += _violations(mary)
        assert found == []


def test_it_would_report_a_violation(demo_server):
    with chromium() as browser:
        page = browser.new_page()
        page.goto(demo_server + "/help/")
        page.evaluate("document.querySelector('main').append(document.createElement('img'))")  # no alt
        assert any(" image-alt " in violation for violation in _violations(page))
