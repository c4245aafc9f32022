"""Something on the signaling path rewrites the secure line's DTLS fingerprint: the IMS core here
(Kamailio with ALTER_FINGERPRINT) replaces the asker's `a=fingerprint` in the INVITE it relays,
as a man in the middle of the signaling would. The other browser then refuses the certificate the
asker presents in the DTLS handshake (it does not match the fingerprint it received, RFC 8842
§5), so the line never opens: both screens say loudly that the keys did not match, each shows the
code it computed from the fingerprints it saw, and the two codes differ. Nothing falls back to a
channel the portal could read: the standard chat goes on, and both legs' records say why. The
conversation's record says no secure chat took place: both timelines and the transcript say the
secure line could not be opened, and why. Where
someone in between terminates DTLS on both sides the line opens, but the codes read aloud differ:
"The codes differ" closes it with the same warning on both screens."""

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import in_conversation, send
from tests.support.kamailio import Kamailio
from tests.support.processes import demo_call_endings
from tests.support.secure_line import SECURE_OPEN, advisor_asks_jane_accepts, codes, fingerprints

WARNING = "the secure line's keys did not match"
NOT_OPENED = "The secure line could not be opened: the keys did not match"


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    """The core of demo_on_kamailio, altering fingerprints as it relays."""
    core = Kamailio(tmp_path, defines=("ALTER_FINGERPRINT", "LOG_SIP")).start()
    yield core
    core.stop()


def test_it_warns_both_sides_when_a_fingerprint_was_altered_on_the_way(demo_on_kamailio, kamailio, tmp_path):
    with chromium() as browser:
        jane, desk, pane = in_conversation(demo_on_kamailio, browser)
        advisor_asks_jane_accepts(jane, pane)
        for page in (jane, pane):
            page.get_by_role("alert").filter(has_text=WARNING).wait_for(timeout=40_000)
            assert page.get_by_label("Write securely").is_hidden()  # nothing can be written on it
            assert page.get_by_text("The other side's screen shows a different code").is_visible()
        jane_code, desk_code = codes(jane, pane)
        assert jane_code != desk_code
        desk_own, _ = fingerprints(desk)
        _, jane_received = fingerprints(jane)
        assert jane_received != desk_own  # what the core did, as Jane's browser saw it
        screenshot(jane, "secure-keys-altered-jane")
        screenshot(desk, "secure-keys-altered-advisor")
        for page in (jane, pane):  # the record: the session was set up, but no secure chat took place
            page.locator(".secure-marker", has_text=NOT_OPENED).wait_for(timeout=15_000)
            assert page.locator(".secure-marker", has_text="Secure chat").count() == 0
        send(jane, "Did you see that warning?")  # the standard chat goes on
        pane.locator(".message.in .body", has_text="Did you see that warning?").wait_for()
        transcripts = [page.request.get(transcript_url(demo_on_kamailio, jane)).text() for page in (jane, desk)]
    for transcript in transcripts:
        assert f"{NOT_OPENED}; nothing was sent on it." in transcript
        assert "Secure chat" not in transcript
    assert "fingerprint altered in the INVITE" in kamailio.log_tail(5000)
    assert demo_call_endings(tmp_path) in (
        ["the keys did not match", "the other side: the keys did not match"],
        ["the keys did not match", "the keys did not match"],  # each browser refused at once
    )
    with sqlite3.connect(tmp_path / "demo.sqlite3") as db:
        opened = db.execute("SELECT opened_by_customer, opened_by_advisor FROM help_desk_securesegment").fetchall()
    assert opened == [(0, 0)]


def transcript_url(base: str, jane: Any) -> str:
    """Her conversation's transcript, as each side downloads it (and as it is e-mailed to her)."""
    found = re.search(r"/help/request/(\d+)/", jane.url)
    assert found, jane.url
    return f"{base}/help/request/{found[1]}/transcript.txt"


def test_it_closes_the_line_with_the_warning_when_a_person_says_the_codes_differ(demo_server, tmp_path):
    with chromium() as browser:
        jane, _, pane = in_conversation(demo_server, browser)
        advisor_asks_jane_accepts(jane, pane)
        for page in (jane, pane):
            page.get_by_role("status").filter(has_text=SECURE_OPEN).wait_for(timeout=30_000)
        jane.get_by_role("button", name="The codes differ").click()
        jane.get_by_role("alert").filter(has_text="the security codes on your two screens differed").wait_for()
        pane.get_by_role("alert").filter(has_text=WARNING).wait_for(timeout=15_000)
        for page in (jane, pane):
            assert page.get_by_label("Write securely").is_hidden()
    with sqlite3.connect(tmp_path / "demo.sqlite3") as db:
        segment = db.execute("SELECT end_reason FROM help_desk_securesegment").fetchall()
    assert demo_call_endings(tmp_path) == ["the keys did not match", "the other side: the keys did not match"]
    assert segment in ([("the keys did not match",)], [("the other side: the keys did not match",)])
