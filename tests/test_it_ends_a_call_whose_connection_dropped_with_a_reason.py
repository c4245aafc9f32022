"""The network goes mid-call: Jane and her advisor talk through the TURN relay (the portal allows
relay candidates only), and the relay stops. Both screens say the call is reconnecting; the caller
restarts ICE at once and again while it gathers no candidate (an offer with none could bring no
path, so none goes out); the path does not come back, so after a bounded wait both screens say
plainly that the connection dropped and the call ended, and the calls' records end with that
reason. The chat goes on."""

import re

from tests.support.browser import chromium, screenshot
from tests.support.coturn import coturn
from tests.support.helpdesk_browser import jane_calls_the_advisor, send
from tests.support.processes import demo_call_endings, demo_portal

DROPPED = "The connection dropped and could not be restored, so the call ended."
RESTARTS = "() => [...portalCalls.values()].at(-1).iceRestarts"


def test_it_restarts_ice_then_ends_the_call_with_a_reason_when_the_path_is_gone(tmp_path):
    with coturn(tmp_path) as relay:
        env = {"TURN_URLS": relay.urls[0], "TURN_SECRET": relay.secret, "ICE_TRANSPORT_POLICY": "relay"}
        with demo_portal(tmp_path, **env) as base, chromium() as browser:
            jane, pane = jane_calls_the_advisor(base, browser)
            for page in (jane, pane):
                page.get_by_role("status").filter(has_text="Call in progress").wait_for(timeout=30_000)
            relay.stop()  # the only path the two browsers had
            for page in (jane, pane):
                page.get_by_role("status").filter(has_text=re.compile("reconnecting|dropped")).wait_for(timeout=30_000)
            for page in (jane, pane):
                page.get_by_role("status").filter(has_text=DROPPED).wait_for(timeout=30_000)
                assert page.get_by_role("button", name="Hang up").is_hidden()
            assert jane.evaluate(RESTARTS) >= 2  # the caller tried again after the first restart found nothing
            screenshot(jane, "call-dropped-jane")
            send(jane, "The call dropped; are you still there?")
            pane.locator(".message.in .body", has_text="The call dropped; are you still there?").wait_for()
    ended = demo_call_endings(tmp_path)
    assert ended in (
        ["the connection dropped", "the other side: the connection dropped"],
        ["the connection dropped", "the connection dropped"],  # both gave up before the BYE came
    )
