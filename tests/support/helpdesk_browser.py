"""Jane and her advisor as people drive them: Chromium pages on the running portal."""

from __future__ import annotations

from typing import Any

from tests.support.browser import screenshot

DEMO_ADVISOR = ("advisor", "advisor-demo")


def advisor_desk(browser: Any, base: str, login: tuple[str, str] = DEMO_ADVISOR, context: Any = None) -> Any:
    username, password = login
    page = (context or browser.new_context()).new_page()
    page.goto(base + "/accounts/login/?next=/desk/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("body[data-live=yes]")
    page.get_by_label("Presence").select_option("available")
    page.locator("#registration-state", has_text="registered").wait_for()
    return page


def jane_asks_for_chat(browser: Any, base: str, mode: str = "Chat", line: str = "", context: Any = None) -> Any:
    """From the tax site's HELP button to her request's page (chat, or Voice or Video; the line
    Standard, or Secure)."""
    context = context or browser.new_context()
    site = context.new_page()
    site.goto(base + "/demo/tax-site/")
    with context.expect_page() as opened:
        site.locator("#portal-help-button").click()
    help_page = opened.value
    help_page.wait_for_load_state()
    help_page.get_by_label(mode).check()
    if line:
        help_page.get_by_label(line).check()
    help_page.get_by_role("button", name="Connect me").click()
    help_page.wait_for_url("**/help/request/*/")
    help_page.wait_for_selector("body[data-live=yes]")
    return help_page


def send(page: Any, text: str, scope: Any = None) -> None:
    where = scope or page
    where.get_by_label("Message").fill(text)
    where.get_by_role("button", name="Send").click()


def chat_both_ways(jane: Any, desk: Any, name: str) -> None:
    desk.locator("#ringing button", has_text="Accept").click()
    jane.locator("#status", has_text="You are talking with Alex Weber").wait_for()
    send(jane, "Where do I enter my pension? <b>bold?</b>")
    pane = desk.locator(".conversation").last
    pane.locator(".message.in .body", has_text="Where do I enter my pension? <b>bold?</b>").wait_for()
    assert pane.locator(".typing").is_hidden()  # what she was typing has arrived: no "typing…" left
    send(desk, "Line 5a, on the second page.", pane)
    jane.locator(".message.in .body", has_text="Line 5a, on the second page.").wait_for()
    assert jane.locator("#typing").is_hidden()
    jane.locator(".message.out .status", has_text="read").wait_for()
    screenshot(jane, f"{name}-jane")
    screenshot(desk, f"{name}-advisor")


def in_conversation(base: str, browser: Any, line: str = "", desk_context: Any = None) -> tuple[Any, Any, Any]:
    """Jane's help page, the advisor's desk, and the desk's pane of her conversation."""
    desk = advisor_desk(browser, base, context=desk_context)
    jane = jane_asks_for_chat(browser, base, line=line)
    desk.locator("#ringing button", has_text="Accept").click()
    jane.locator("#status", has_text="You are talking with").wait_for()
    return jane, desk, desk.locator(".conversation").last


def jane_calls_the_advisor(base: str, browser: Any) -> tuple[Any, Any]:
    """In a conversation, Jane presses Call and the advisor answers: her page, the desk's pane."""
    jane, _, pane = in_conversation(base, browser)
    jane.get_by_role("button", name="Call", exact=True).click()
    pane.get_by_role("button", name="Answer").click()
    return jane, pane
