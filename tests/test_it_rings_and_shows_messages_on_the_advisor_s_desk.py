"""Calls and messages for the advisor's identity reach him on whichever page of the portal he has
open: with only his desk open, a message Mary sends his identity through the IMS (the demo's
stand-in core) is shown on the desk, with a way to the communications page, and a call from her
rings there and is answered there. Before, the desk showed neither: the message stayed "sent"."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import advisor_desk
from tests.support.identity_page import identity_page, pick_colleague
from tests.support.media import connection_state, until


def test_it_shows_a_message_and_rings_on_the_desk_when_it_is_his_only_window(demo_server):
    with chromium("--allow-loopback-in-peer-connection") as browser:
        desk = advisor_desk(browser, demo_server)
        his_identity = desk.locator("#impu").inner_text()
        mary = identity_page(browser, demo_server, "mary", "mary-demo")

        pick_colleague(mary, "To", "alex", "Alex Weber")  # a message to a colleague by name goes to his identity
        mary.get_by_label("Message", exact=True).fill("Are you free for a quick call about the Weber file?")
        mary.get_by_role("button", name="Send").click()
        dock = desk.get_by_role("region", name="Your phone")
        message = dock.get_by_role("status").filter(has_text="Are you free for a quick call about the Weber file?")
        expect(message).to_contain_text(f"Message from {mary.locator('#impu').inner_text()}", timeout=20_000)
        link = dock.get_by_role("link", name="Reply on the communications page")
        expect(link).to_have_attribute("href", "/identity/")
        expect(mary.locator(".message.out .status")).to_have_text("sent")
        expect(mary.locator(".message.out .who")).to_have_text(f"to {his_identity}")

        pick_colleague(mary, "Call to", "alex w", "Alex Weber")
        mary.get_by_role("button", name="Call", exact=True).click()
        expect(dock.locator(".call-status")).to_have_text("Incoming call", timeout=20_000)
        expect(dock.locator(".call-bubble")).to_contain_text("from Mary Major")  # a colleague, by name
        screenshot(desk, "desk-rings-for-a-colleague")
        dock.get_by_role("button", name="Answer").click()
        for page in (desk, mary):
            expect(page.locator(".call-status").last).to_have_text("Call in progress", timeout=20_000)
            until(lambda page=page: connection_state(page) == "connected", 20, "the call's media path")
        dock.get_by_role("button", name="Hang up").click()
        expect(mary.locator(".call-status")).to_have_text("The other side hung up.", timeout=10_000)
