"""Jane and her advisor chat in Chromium; Jane adds audio and the chat goes on. The call crosses
the IMS core (Kamailio) from Jane's identity to the advisor's; the media goes browser to browser,
Opus passed through end to end: each browser's received fingerprint is the other's own, and each
hears the other's tone (440 Hz from Jane's microphone, 660 Hz from the advisor's). Video is added
and removed mid-call, the advisor holds and resumes, and either side hangs up; the bubble in the
timeline shows the duration and the media path."""

import re

import pytest

from tests.support.browser import chromiums, screenshot
from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat, send
from tests.support.media import (
    capturing,
    connection_state,
    directions,
    fingerprints,
    hears,
    inbound_audio,
    tone_wav,
    until,
)

JANE_HZ, ADVISOR_HZ = 440, 660


@pytest.fixture
def two_voices(tmp_path):
    jane, advisor = tone_wav(tmp_path / "jane.wav", JANE_HZ), tone_wav(tmp_path / "advisor.wav", ADVISOR_HZ)
    with chromiums(capturing(jane), capturing(advisor)) as browsers:
        yield browsers


def _in_conversation(base, jane_browser, advisor_browser):
    desk = advisor_desk(advisor_browser, base)
    jane = jane_asks_for_chat(jane_browser, base)
    desk.locator("#ringing button", has_text="Accept").click()
    jane.locator("#status", has_text="You are talking with").wait_for()
    return jane, desk, desk.locator(".conversation").last


def _connected(*pages):
    for page in pages:
        page.get_by_role("status").filter(has_text="Call in progress").wait_for(timeout=30_000)
        assert connection_state(page) == "connected"


def _audio_grows(page):
    first = inbound_audio(page)
    until(lambda: inbound_audio(page)["bytes"] > first["bytes"] + 2000, what="inbound audio growing")
    assert first["codec"] == "audio/opus"


def test_it_lets_jane_add_audio_to_her_chat_and_both_hear_each_other(demo_on_kamailio, kamailio, two_voices):
    jane, desk, pane = _in_conversation(demo_on_kamailio, *two_voices)
    jane.get_by_role("button", name="Call", exact=True).click()
    pane.get_by_role("button", name="Answer").click()
    _connected(jane, desk)
    assert "INVITE crossing the core" in kamailio.log_tail(200)  # signalled through the IMS core

    send(jane, "Can you hear me?")  # the chat goes on beside the call
    pane.locator(".message.in .body", has_text="Can you hear me?").wait_for()
    send(desk, "Loud and clear.", pane)
    jane.locator(".message.in .body", has_text="Loud and clear.").wait_for()

    for page in (jane, desk):
        _audio_grows(page)
    jane_own, jane_received = fingerprints(jane)
    desk_own, desk_received = fingerprints(desk)
    assert (jane_received, desk_received) == (desk_own, jane_own)  # DTLS-SRTP end to end, untouched
    hears(jane, ADVISOR_HZ)
    hears(desk, JANE_HZ)
    screenshot(jane, "call-jane")
    screenshot(desk, "call-advisor")

    jane.get_by_role("button", name="Camera on").click()  # video added by a re-INVITE
    until(lambda: desk.locator("video.remote-video").is_visible(), what="the advisor sees Jane's camera")
    jane.get_by_role("button", name="Camera off").click()
    until(lambda: desk.locator("video.remote-video").is_hidden(), what="Jane's camera gone")

    pane.get_by_role("button", name="Hold").click()  # the advisor's hold: a=sendonly, Jane recvonly
    until(lambda: all(d.endswith("recvonly") for d in directions(jane) if not d.endswith("null")), what="on hold")
    pane.get_by_role("button", name="Resume").click()
    until(lambda: all(d.endswith("sendrecv") for d in directions(jane) if not d.endswith("null")), what="resumed")
    hears(desk, JANE_HZ)

    jane.get_by_role("button", name="Hang up").click()
    pane.get_by_role("status").filter(has_text="hung up").wait_for()
    bubble = jane.locator(".call-bubble").last.text_content() or ""
    assert re.search(r"Voice call · \d+:\d\d · opus · passed through · You hung up", bubble), bubble


def test_it_lets_jane_call_in_the_demo_and_the_advisor_hang_up(demo_server, two_voices):
    """`make run` as it is: embedded defaults, the stand-in core, no TURN or media gateway needed."""
    jane, desk, pane = _in_conversation(demo_server, *two_voices)
    jane.get_by_role("button", name="Call", exact=True).click()
    pane.get_by_role("button", name="Answer").click()
    _connected(jane, desk)
    # The advisor's side knows the media path once the ACK of its answer came through the core.
    pane.locator(".call-bubble", has_text="passed through").wait_for()
    hears(jane, ADVISOR_HZ)
    hears(desk, JANE_HZ)
    screenshot(jane, "demo-call-jane")
    screenshot(desk, "demo-call-advisor")
    pane.get_by_role("button", name="Hang up").click()
    jane.get_by_role("status").filter(has_text="The other side hung up.").wait_for()
    bubble = pane.locator(".call-bubble").last.text_content() or ""
    assert re.search(r"Voice call · \d+:\d\d · .*You hung up", bubble), bubble


def test_it_rings_the_advisor_for_a_voice_request_with_chat_beside_it(demo_server, two_voices):
    jane_browser, advisor_browser = two_voices
    desk = advisor_desk(advisor_browser, demo_server)
    jane = jane_asks_for_chat(jane_browser, demo_server, mode="Voice")
    desk.locator("#ringing button", has_text="Accept").click()
    pane = desk.locator(".conversation").last
    pane.get_by_role("button", name="Answer").click()  # Jane's page called as soon as it opened
    _connected(jane, desk)
    send(jane, "I rang about my pension.")
    pane.locator(".message.in .body", has_text="I rang about my pension.").wait_for()
