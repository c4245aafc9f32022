"""A call to Mary's identity rings every open window of hers, whichever page of the portal it
shows: her communications page and the help page she opened from the tax site (logged in, she asks
for help as herself). She answers on the help page; her communications page stops ringing."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat
from tests.support.identity_page import identity_page
from tests.support.media import connection_state, until


def test_it_rings_her_help_page_and_her_communications_page(demo_server):
    with chromium("--allow-loopback-in-peer-connection") as browser:
        mary = identity_page(browser, demo_server, "mary", "mary-demo")
        desk = advisor_desk(browser, demo_server)  # on duty: she can ask for help
        help_page = jane_asks_for_chat(browser, demo_server, context=mary.context)
        alex = desk.context.new_page()
        alex.goto(demo_server + "/identity/")
        alex.locator("body[data-live=yes]").wait_for()

        # By keyboard: part of her name, down to her among the suggestions, Enter picks her (and
        # only that: no call yet), Enter again calls.
        call_to = alex.get_by_label("Call to")
        call_to.fill("MAJ")
        expect(alex.get_by_role("option", name="Mary Major")).to_be_visible()
        call_to.press("ArrowDown")
        expect(alex.get_by_role("option", name="Mary Major")).to_have_attribute("aria-selected", "true")
        call_to.press("Enter")
        expect(call_to).to_have_value("Mary Major")
        expect(alex.get_by_role("option", name="Mary Major")).to_be_hidden()
        assert alex.evaluate("globalThis.portalCalls.size") == 0
        call_to.press("Enter")
        dock = help_page.get_by_role("region", name="Your phone")
        expect(dock.locator(".call-status")).to_have_text("Incoming call", timeout=20_000)
        expect(mary.locator(".call-status")).to_have_text("Incoming call")
        dock.get_by_role("button", name="Answer").click()
        expect(mary.locator(".call-status")).to_have_text("Answered in another window.")
        for page in (help_page, alex):
            expect(page.locator(".call-status").last).to_have_text("Call in progress", timeout=20_000)
            until(lambda page=page: connection_state(page) == "connected", 20, "the call's media path")
        screenshot(help_page, "help-page-rings-for-a-colleague")
        alex.get_by_role("button", name="Hang up").click()
        expect(dock.locator(".call-status")).to_have_text("The other side hung up.", timeout=10_000)
