"""The network goes for a moment mid-call: Jane and her advisor talk through the TURN relay (the
portal allows relay candidates only), and the relay stops. Both screens say the call is
reconnecting; the caller restarts ICE, and again while the restarts find no path. The relay comes
back on the same port with the same secret within the wait, and both screens say the call is in
progress again: each hears the other's tone through the new relay, and the calls' records are
still open. The chat goes on throughout. The TURN credentials the pages were given at the start
have expired by then (a long call's would): both pages ask their sockets for new ones before
gathering again, and the new relays are allocated with those."""

import re
import sqlite3
import time

from tests.support.browser import chromiums, screenshot
from tests.support.coturn import coturn, restart
from tests.support.helpdesk_browser import in_conversation, send
from tests.support.media import capturing, hears, tone_wav
from tests.support.processes import demo_portal

JANE_HZ, ADVISOR_HZ = 440, 660
CREDENTIAL_SECONDS = 10  # the least the portal issues
ALLOCATED = r"user <([^>]+)>: incoming packet ALLOCATE processed, success"
CALL = "[...portalCalls.values()].at(-1)"
UFRAG = f"() => {CALL}.pc.localDescription.sdp.match(/a=ice-ufrag:(\\S+)/)[1]"


def _in_progress(*pages):
    for page in pages:
        page.get_by_role("status").filter(has_text="Call in progress").wait_for(timeout=30_000)


def _chat(sender, receiver, text):
    send(sender, text)
    receiver.locator(".message.in .body", has_text=text).wait_for()


def _open_calls(workdir):
    with sqlite3.connect(workdir / "demo.sqlite3") as db:
        return db.execute("SELECT count(*) FROM ims_callrecord WHERE ended_at IS NULL AND end_reason = ''").fetchone()[
            0
        ]


def test_it_restores_the_call_when_the_path_comes_back_within_the_wait(tmp_path):
    tones = [tone_wav(tmp_path / f"{hz}.wav", hz) for hz in (JANE_HZ, ADVISOR_HZ)]
    with coturn(tmp_path) as relay:
        env = {"TURN_URLS": relay.urls[0], "TURN_SECRET": relay.secret, "ICE_TRANSPORT_POLICY": "relay"}
        env["TURN_CREDENTIAL_SECONDS"] = str(CREDENTIAL_SECONDS)
        with demo_portal(tmp_path, **env) as base, chromiums(*map(capturing, tones)) as (hers, advisors):
            jane, desk, pane = in_conversation(
                base, hers, jane_context=hers.new_context(), desk_context=advisors.new_context()
            )
            jane.get_by_role("button", name="Call", exact=True).click()
            pane.get_by_role("button", name="Answer").click()
            _in_progress(jane, pane)
            first_ufrag = jane.evaluate(UFRAG)
            relay.stop()  # the only path the two browsers had
            for page in (jane, pane):
                page.get_by_role("status").filter(has_text="reconnecting").wait_for(timeout=30_000)
            _chat(jane, pane, "You went quiet; are you still there?")
            jane.wait_for_function(f"() => {CALL}.iceRestarts >= 2")  # the first found no network
            given = _latest_credential(relay, 0)
            while time.time() < given + 1:  # coturn would refuse an allocation with it now
                jane.wait_for_timeout(250)
            before = len(relay.log_path.read_text(errors="replace"))
            restarted_at = time.time()
            restart(relay)
            _in_progress(jane, pane)
            assert jane.evaluate(UFRAG) != first_ufrag  # restored by an ICE restart
            hears(jane, ADVISOR_HZ)
            hears(desk, JANE_HZ)
            assert _open_calls(tmp_path) == 2
            screenshot(jane, "call-restored-jane")
            screenshot(desk, "call-restored-advisor")
            _chat(pane, jane, "I can hear you again.")
    since = relay.log_path.read_text(errors="replace")[before:]
    users = set(re.findall(ALLOCATED, since))
    assert len(users) == 2  # each browser's relay allocated anew
    assert all(int(user.split(":")[0]) > restarted_at for user in users)  # with credentials issued since


def _latest_credential(relay, before: int) -> int:
    """The latest expiry among the usernames coturn allocated relays for, from the log's offset."""
    users = re.findall(ALLOCATED, relay.log_path.read_text(errors="replace")[before:])
    return max(int(user.split(":")[0]) for user in users)
