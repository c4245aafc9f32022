"""A request ringing an advisor whose desk tab is hidden rings out loud, shows the browser's own
notification and flashes the tab's title, until the desk is seen again.

Headless Chromium keeps every tab visible, so the advisor's page is told it is hidden the way a
browser tells it (visibilityState and a visibilitychange event); the notification and the tones
are the browser's own, watched as they are made."""

from __future__ import annotations

from tests.support.browser import chromium
from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat

WATCH = """
let hidden = false;
Object.defineProperty(Document.prototype, "hidden", { get: () => hidden, configurable: true });
const state = () => (hidden ? "hidden" : "visible");
Object.defineProperty(Document.prototype, "visibilityState", { get: state, configurable: true });
globalThis.setTabHidden = (value) => { hidden = value; document.dispatchEvent(new Event("visibilitychange")); };
globalThis.notified = [];
globalThis.tones = 0;
const Shown = Notification;
globalThis.Notification = class extends Shown {
  constructor(title, options) { super(title, options); notified.push({ title, body: options.body }); }
};
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { tones += 1; return start.apply(this, args); };
"""


def test_a_hidden_desk_rings_notifies_and_flashes(demo_server):
    with chromium() as browser:
        context = browser.new_context()
        context.grant_permissions(["notifications"], origin=demo_server)
        context.add_init_script(WATCH)
        desk = advisor_desk(browser, demo_server, context=context)
        assert desk.get_by_role("button", name="Notify me of requests while this tab is hidden").is_hidden()
        desk.evaluate("setTabHidden(true)")
        jane = jane_asks_for_chat(browser, demo_server)
        request_id = jane.url.rstrip("/").rsplit("/", 1)[1]
        desk.wait_for_function("() => notified.length > 0")
        assert desk.evaluate("notified") == [{"title": "Help request", "body": f"#{request_id} · Tax help · chat"}]
        assert desk.evaluate("tones") > 0
        desk.wait_for_function("() => document.title.startsWith('(1) Help request')")

        desk.evaluate("setTabHidden(false)")  # the advisor looks: quiet, the title as it was
        desk.wait_for_function("() => document.title === 'Advisor desk · WebRTC IMS portal'")
        tones = desk.evaluate("tones")
        desk.wait_for_timeout(3500)  # a ring repeats every 3 s: none more
        assert desk.evaluate("tones") == tones
        desk.locator("#ringing button", has_text="Accept").click()
        jane.locator("#status", has_text="You are talking with Alex Weber").wait_for()


def test_the_desk_offers_to_turn_notifications_on(demo_server):
    with chromium() as browser:
        desk = advisor_desk(browser, demo_server)
        turn_on = desk.get_by_role("button", name="Notify me of requests while this tab is hidden")
        turn_on.click()
        turn_on.wait_for(state="hidden")
