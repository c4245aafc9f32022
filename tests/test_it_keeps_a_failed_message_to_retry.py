"""A message that could not be delivered says so in plain words, stays through a reload, and goes
again with Retry; Enter sends and Shift+Enter starts a new line; a long message arrives; an ended
conversation offers no Send. In the demo, Chromium, Jane and the advisor as people drive them."""

import subprocess
import time

from playwright.sync_api import expect

from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import DEMO_ADVISOR, advisor_desk, jane_asks_for_chat
from tests.support.processes import manage, portal_env


def _open_desk(browser, base):
    return advisor_desk(browser, base, DEMO_ADVISOR)


def _until_unregistered(workdir):
    query = (
        "from identity_blocks.models import IdentityAssignment as A; "
        "print(A.objects.live().get(user__username='advisor').registration_state)"
    )
    env = portal_env(DATABASE_URL=f"sqlite:///{workdir / 'demo.sqlite3'}")
    for _ in range(20):
        state = subprocess.run(manage("shell", "-c", query), env=env, check=True, capture_output=True, text=True)
        if state.stdout.strip().endswith("unregistered"):
            return
        time.sleep(0.3)
    raise AssertionError(f"the advisor's identity is still {state.stdout.strip()}")


def test_it_keeps_a_failed_message_and_sends_it_again(demo_server, tmp_path):
    with chromium() as browser:
        desk = _open_desk(browser, demo_server)
        jane = jane_asks_for_chat(browser, demo_server)
        desk.locator("#ringing button", has_text="Accept").click()
        expect(jane.locator("#status")).to_have_text("You are talking with Alex Weber.")
        expect(jane.get_by_label("Message")).to_be_focused()

        long = ("Where do I enter my pension from abroad? " * 130)[:5000]
        composer = jane.get_by_label("Message")
        composer.fill("First line")
        composer.press("Shift+Enter")
        composer.press_sequentially("second line")
        composer.press("Enter")
        pane = desk.locator(".conversation").last
        expect(pane.locator(".message.in .body").last).to_have_text("First line\nsecond line")
        composer.fill(long)
        composer.press("Enter")
        expect(pane.locator(".message.in .body").last).to_have_text(long, timeout=15_000)

        # The advisor logs out: her identity is de-registered, so the core can take nothing for her.
        desk.get_by_role("button", name="Log out").click()
        _until_unregistered(tmp_path)
        composer.fill("Are you still there?")
        composer.press("Enter")
        failed = jane.locator(".message.failed")
        expect(failed.locator(".status")).to_have_text("Not delivered. Retry", timeout=20_000)
        jane.reload()
        jane.wait_for_selector("body[data-live=yes]")
        expect(failed.locator(".body")).to_have_text("Are you still there?")
        expect(jane.locator(".message.out .status").first).to_have_text("read")  # receipts survive a reload
        screenshot(jane, "failed-message-after-reload")

        desk = _open_desk(browser, demo_server)
        failed.get_by_role("button", name="Retry").click()
        pane = desk.locator(".conversation").last
        expect(pane.locator(".message.in .body").last).to_have_text("Are you still there?", timeout=20_000)
        expect(jane.locator(".message.failed")).to_have_count(0)
        expect(jane.locator(".message.out .status").last).to_have_text("read")

        pane.get_by_role("button", name="Close conversation").click()
        expect(jane.locator("#status")).to_have_text("The conversation has ended.")
        expect(jane.get_by_role("button", name="Send")).to_be_hidden()
        expect(pane.get_by_role("button", name="Send")).to_be_hidden()
        expect(pane.get_by_text("This conversation has ended.")).to_be_visible()
