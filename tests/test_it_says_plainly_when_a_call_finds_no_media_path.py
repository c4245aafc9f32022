"""A call whose browsers cannot reach each other: the portal allows relay candidates only
(ICE_TRANSPORT_POLICY=relay) and its TURN server does not answer, so ICE has nothing to try. Each
side waits a bounded time for a path, then says so in plain words and the call ends; the chat goes
on. The calls' records end with the reason: the side that gave up first names it, and its BYE's
Reason tells the other side's record and screen the same."""

from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import jane_calls_the_advisor, send
from tests.support.processes import demo_call_endings, demo_portal
from tests.support.services import free_port

NO_PATH = "No media path could be made to the other side."


def test_it_ends_a_call_with_a_plain_message_when_ice_finds_no_path(tmp_path):
    nowhere = f"turn:127.0.0.1:{free_port()}?transport=udp"  # nothing listens there
    env = {"TURN_URLS": nowhere, "TURN_SECRET": "unused", "ICE_TRANSPORT_POLICY": "relay"}
    with demo_portal(tmp_path, **env) as base, chromium() as browser:
        jane, pane = jane_calls_the_advisor(base, browser)
        for page in (jane, pane):
            page.get_by_role("status").filter(has_text="Call: connecting").wait_for(timeout=15_000)
        for page in (jane, pane):  # the bounded wait (20 s from the answer), then the plain message
            page.get_by_role("status").filter(has_text=NO_PATH).wait_for(timeout=40_000)
            page.locator(".call-bubble", has_text=NO_PATH).wait_for()
            assert page.get_by_role("button", name="Hang up").is_hidden()
        screenshot(jane, "call-no-media-path-jane")
        send(jane, "The call did not work; let us write.")
        pane.locator(".message.in .body", has_text="The call did not work; let us write.").wait_for()
    ended = demo_call_endings(tmp_path)
    assert ended in (["no media path", "the other side: no media path"], ["no media path", "no media path"])
