"""Jane and her advisor with the keyboard alone (Tab, Space, Enter, typing): from HELP on the tax
site to a chat, and on the desk from logging in to accepting and replying. Every control they land
on shows where the focus is, and each new message of the other side is announced to screen readers
by a polite live region."""

from __future__ import annotations

from typing import Any

from tests.support.browser import chromium, screenshot

MOST_TABS = 60  # more than any of these pages has stops


def tab_to(page: Any, target: Any, *, ring_px: int = 3) -> None:
    """Tab until `target` has the focus (it may have it already), then check it shows a focus ring."""
    for _ in range(MOST_TABS):
        if target.evaluate("e => e === e.ownerDocument.activeElement"):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError(f"Tab never reached {target}")
    style, width = target.evaluate("e => [getComputedStyle(e).outlineStyle, getComputedStyle(e).outlineWidth]")
    assert style != "none", f"{target} shows no focus"
    assert float(width.removesuffix("px")) >= ring_px, f"{target}'s focus ring is {width}"


def advisor_by_keyboard(context: Any, base: str) -> Any:
    desk = context.new_page()
    desk.goto(base + "/accounts/login/?next=/desk/")
    tab_to(desk, desk.get_by_label("User name"))
    desk.keyboard.type("advisor")
    tab_to(desk, desk.get_by_label("Password"))
    desk.keyboard.type("advisor-demo")
    desk.keyboard.press("Enter")
    desk.wait_for_selector("body[data-live=yes]")
    presence = desk.get_by_label("Presence")
    tab_to(desk, presence)
    desk.keyboard.press("Home")  # a closed select takes the first option, Available, from the keyboard
    assert presence.input_value() == "available"
    desk.locator("#registration-state", has_text="registered").wait_for()
    return desk


def jane_by_keyboard(context: Any, base: str) -> Any:
    site = context.new_page()
    site.goto(base + "/demo/tax-site/")
    # The loader's button wears the browser's own focus ring, drawn thinner than the portal's.
    tab_to(site, site.get_by_role("button", name="Get help from an advisor"), ring_px=1)
    with context.expect_page() as opened:
        site.keyboard.press("Enter")
    jane = opened.value
    jane.wait_for_load_state()
    chat = jane.get_by_role("radio", name="Chat")
    tab_to(jane, chat)
    jane.keyboard.press("Space")
    assert chat.is_checked()
    tab_to(jane, jane.get_by_role("button", name="Connect me"))
    jane.keyboard.press("Enter")
    jane.wait_for_url("**/help/request/*/")
    jane.wait_for_selector("body[data-live=yes]")
    return jane


def test_jane_and_the_advisor_chat_with_the_keyboard_alone(demo_server):
    with chromium() as browser:
        desk = advisor_by_keyboard(browser.new_context(), demo_server)
        jane = jane_by_keyboard(browser.new_context(), demo_server)

        accept = desk.locator("#ringing").get_by_role("button", name="Accept")
        accept.wait_for()
        tab_to(desk, accept)
        desk.keyboard.press("Enter")
        jane.locator("#status", has_text="You are talking with Alex Weber").wait_for()

        tab_to(jane, jane.get_by_label("Message"))
        jane.keyboard.type("Where do I enter my pension?")
        jane.keyboard.press("Enter")
        pane = desk.locator(".conversation").last
        pane.locator(".message.in .body", has_text="Where do I enter my pension?").wait_for()
        desk.locator("[aria-live=polite]", has_text="Customer: Where do I enter my pension?").wait_for(state="attached")

        tab_to(desk, pane.get_by_label("Message"))
        desk.keyboard.type("Line 5a, on the second page.")
        desk.keyboard.press("Enter")
        jane.locator(".message.in .body", has_text="Line 5a, on the second page.").wait_for()
        jane.locator("[aria-live=polite]", has_text="Advisor: Line 5a, on the second page.").wait_for(state="attached")
        # Only the other side's new messages are announced: not her own, not the history.
        assert jane.locator("[aria-live=polite]", has_text="Where do I enter my pension?").count() == 0
        screenshot(jane, "keyboard-jane")
        screenshot(desk, "keyboard-advisor")
