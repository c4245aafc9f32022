"""Every page carries a Content-Security-Policy that allows no inline script or style and no
framing, but for the customer's help pages, which only the embedding sites may frame (in the demo,
the portal's own tax site); the pages people use (the tax site and its HELP button, the help page
in a window and in the tax site's panel, a chat with the desk, the rating and transcript forms
after it, Mary's identity page, the log-in pages, the admin) run in Chromium without one violation."""

from __future__ import annotations

import re
from typing import Any
from urllib.request import urlopen

from tests.support.browser import chromium
from tests.support.helpdesk_browser import (
    advisor_desk,
    chat_both_ways,
    close_and_rate,
    jane_asks_for_chat,
    jane_in_the_panel,
)

VIOLATION = "Content Security Policy"


def _watched(browser: Any) -> tuple[Any, list[str]]:
    """A fresh context, and the violations Chromium reports in its pages' consoles."""
    context = browser.new_context()
    seen: list[str] = []
    context.on("console", lambda message: seen.append(message.text) if VIOLATION in message.text else None)
    return context, seen


def _log_in(context: Any, base: str, page_path: str, user: str, password: str) -> Any:
    page = context.new_page()
    page.goto(base + page_path)
    page.get_by_label("Username" if page_path.startswith("/admin/") else "User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    return page


def test_it_sends_the_policy_with_every_page(demo_server):
    for path in ("/", "/help/", "/demo/tax-site/", "/demo/tax-site/?open=panel", "/accounts/login/", "/admin/login/"):
        with urlopen(demo_server + path, timeout=10) as response:  # noqa: S310 (the demo on loopback)
            policy, frame_options = response.headers["Content-Security-Policy"], response.headers["X-Frame-Options"]
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        embeddable = path.startswith("/help/")
        assert ("frame-ancestors 'self'" if embeddable else "frame-ancestors 'none'") in policy
        assert frame_options == ("SAMEORIGIN" if embeddable else "DENY")


def test_it_runs_the_pages_people_use_without_a_violation(demo_server):
    with chromium() as browser:
        desk_context, desk_seen = _watched(browser)
        desk = advisor_desk(browser, demo_server, context=desk_context)
        jane_context, jane_seen = _watched(browser)
        jane = jane_asks_for_chat(browser, demo_server, context=jane_context)
        chat_both_ways(jane, desk, "csp")
        close_and_rate(jane, desk.locator(".conversation").last)
        panel_context, panel_seen = _watched(browser)
        jane_in_the_panel(browser, demo_server, context=panel_context)
        mary_context, mary_seen = _watched(browser)
        mary = _log_in(mary_context, demo_server, "/accounts/login/?next=/identity/", "mary", "mary-demo")
        mary.locator("body[data-live=yes]").wait_for()
        mary.get_by_role("navigation", name="History").get_by_role("link", name="Messages").click()
        mary.get_by_role("heading", name="Messages").wait_for()
        mary.get_by_role("link", name="Call log").click()
        mary.get_by_role("heading", name="Call log").wait_for()
        admin_context, admin_seen = _watched(browser)
        admin = _log_in(admin_context, demo_server, "/admin/login/?next=/admin/", "admin", "admin-demo")
        admin.get_by_role("link", name="Help requests").click()
        admin.get_by_role("link", name=re.compile(r"^\d+$")).first.click()  # her request, with its chat
        admin.get_by_role("heading", name="Change help request").wait_for()
        admin.goto(demo_server + "/admin/help_desk/advisor/")
        admin.get_by_role("link", name="advisor", exact=True).click()  # the queues' two-list chooser
        admin.get_by_role("heading", name="Change advisor").wait_for()
        for page in (desk, jane, mary, admin):
            page.wait_for_timeout(300)  # reports of anything loaded last
        assert desk_seen + jane_seen + panel_seen + mary_seen + admin_seen == []

        # The watch does see one: an inline script put into a page is refused and reported.
        jane.evaluate("document.body.append(Object.assign(document.createElement('script'), {textContent: '1'}))")
        jane.wait_for_timeout(300)
        assert any("script-src 'self'" in text for text in jane_seen)
