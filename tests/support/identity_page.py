"""A holder's /identity/ page as she opens it: logged in, its identity registered, its socket live."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.support.parts import Portal


def identity_page(browser: Any, portal: Portal | str, user: str, password: str) -> Any:
    """`user` (one of the demo's log-ins) logged in in a fresh context of `browser`, registered; her
    page. `portal`: the running portal, or the base URL of one (the demo's)."""
    page = browser.new_context().new_page()
    page.goto((portal if isinstance(portal, str) else portal.base) + "/accounts/login/?next=/identity/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator("#registration-state", has_text="Registered").wait_for(timeout=20_000)
    page.locator("body[data-live=yes]").wait_for()
    return page


def pick_colleague(page: Any, field: str, typed: str, name: str) -> None:
    """Types part of a colleague's name into the address labelled `field` and picks them from the
    suggestions by name, as she does; the field then shows the name."""
    address = page.get_by_label(field, exact=True)
    address.fill(typed)
    page.get_by_role("option", name=name).click()
    expect(address).to_have_value(name)
