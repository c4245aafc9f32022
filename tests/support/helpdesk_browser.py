"""Jane and her advisor as people drive them: Chromium pages on the running portal."""

from __future__ import annotations

from typing import Any

from tests.support.browser import screenshot

DEMO_ADVISOR = ("advisor", "advisor-demo")


# What the log-in form and the desk call things, in the languages the portal speaks.
WORDS = {
    "en": {
        "user": "User name",
        "password": "Password",
        "log in": "Log in",
        "presence": "Presence",
        "registered": "registered",
    },
    "de": {
        "user": "Benutzername",
        "password": "Passwort",
        "log in": "Anmelden",
        "presence": "Anwesenheit",
        "registered": "registriert",
    },
}


def advisor_desk(
    browser: Any, base: str, login: tuple[str, str] = DEMO_ADVISOR, context: Any = None, language: str = "en"
) -> Any:
    """The advisor logged in to their desk, available; `language` is the one `context`'s browser asks for."""
    username, password = login
    words = WORDS[language]
    page = (context or browser.new_context()).new_page()
    page.goto(base + "/accounts/login/?next=/desk/")
    page.get_by_label(words["user"]).fill(username)
    page.get_by_label(words["password"]).fill(password)
    page.get_by_role("button", name=words["log in"]).click()
    page.wait_for_selector("body[data-live=yes]")
    page.get_by_label(words["presence"]).select_option("available")
    page.locator("#registration-state", has_text=words["registered"]).wait_for()
    return page


def jane_asks_for_chat(
    browser: Any, base: str, mode: str = "Chat", line: str = "", context: Any = None, connect: str = "Connect me"
) -> Any:
    """From the tax site's HELP button to her request's page (chat, or Voice or Video; the line
    Standard, or Secure; `connect` is the button's name in her browser's language)."""
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
    help_page.get_by_role("button", name=connect).click()
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


def close_and_rate(jane: Any, pane: Any) -> None:
    """The advisor closes the conversation in their desk's `pane`; Jane rates it 4 with a comment."""
    pane.get_by_label("Wrap-up note").fill("pension question")
    pane.get_by_role("button", name="Close conversation").click()
    jane.locator("#status", has_text="The conversation has ended.").wait_for()
    jane.get_by_label("4 · good").check()
    jane.get_by_label("Comment (optional)").fill("Quick and clear")
    jane.get_by_role("button", name="Rate the conversation").click()
    jane.get_by_text("You rated this conversation 4 of 5. Thank you.").wait_for()


def jane_in_the_panel(browser: Any, base: str, context: Any = None) -> tuple[Any, Any]:
    """The tax site with the help in a panel on it: (the site's page, the panel's frame)."""
    site = (context or browser.new_context()).new_page()
    site.goto(base + "/demo/tax-site/?open=panel")
    site.get_by_role("button", name="Get help from an advisor").click()
    panel = site.frame_locator("iframe[title='Help from an advisor']")
    panel.get_by_label("Chat").check()
    panel.get_by_role("button", name="Connect me").click()
    panel.locator("body[data-live=yes]").wait_for()
    return site, panel


def in_conversation(
    base: str, browser: Any, line: str = "", desk_context: Any = None, jane_context: Any = None
) -> tuple[Any, Any, Any]:
    """Jane's help page, the advisor's desk, and the desk's pane of her conversation."""
    desk = advisor_desk(browser, base, context=desk_context)
    jane = jane_asks_for_chat(browser, base, line=line, context=jane_context)
    desk.locator("#ringing button", has_text="Accept").click()
    jane.locator("#status", has_text="You are talking with").wait_for()
    return jane, desk, desk.locator(".conversation").last


def jane_calls_the_advisor(base: str, browser: Any) -> tuple[Any, Any]:
    """In a conversation, Jane presses Call and the advisor answers: her page, the desk's pane."""
    jane, _, pane = in_conversation(base, browser)
    jane.get_by_role("button", name="Call", exact=True).click()
    pane.get_by_role("button", name="Answer").click()
    return jane, pane
