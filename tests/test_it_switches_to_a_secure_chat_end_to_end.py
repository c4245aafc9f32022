"""Jane and her advisor switch from the standard chat (SIP MESSAGE through the IMS) to the secure
chat line, a WebRTC data channel end to end between their browsers, whose session the IMS core
conveys unchanged (an INVITE from the asker's identity to the other's); they write both ways on it,
both screens show the same short authentication string (from the two DTLS fingerprints as each
browser saw them), and either returns to the standard chat. In the demo the advisor asks; on the
portal in its production shape (PostgreSQL, Redis, daphne, the IMS side, Kamailio as the core)
Jane chose the secure line on the help page, and a phrase written on it is nowhere the portal or
the core could have seen it: not in a dump of the database, the servers' logs, a Redis MONITOR
capture or the SIP the core received, and neither is the name nor the content of a file she shares
on it; a phrase of the standard chat is in each of them."""

import re
import subprocess
import uuid

import psycopg

from tests.support.browser import chromium, screenshot
from tests.support.helpdesk_browser import in_conversation, send
from tests.support.kamailio import Kamailio
from tests.support.parts import Portal
from tests.support.secure_line import (
    SECURE_OPEN,
    advisor_asks_jane_accepts,
    both_ways,
    codes,
    file_with,
    fingerprints,
    share,
    transfer,
)
from tests.support.services import require_binary


def test_it_lets_the_advisor_switch_to_a_secure_chat_and_jane_return_in_the_demo(demo_server):
    with chromium() as browser:
        jane, desk, pane = in_conversation(demo_server, browser)
        send(jane, "May I send you my figures?")
        pane.locator(".message.in .body", has_text="May I send you my figures?").wait_for()
        pane.get_by_role("button", name="Switch to secure chat").click()
        pane.get_by_role("status").filter(has_text="Asking the customer to switch").wait_for()
        jane.get_by_role("status").filter(has_text="The advisor asks to switch to a secure chat").wait_for()
        jane.get_by_role("button", name="Accept secure chat").click()
        for page in (jane, pane):
            page.get_by_role("status").filter(has_text=SECURE_OPEN).wait_for(timeout=30_000)
            page.locator(".secure-marker", has_text="Secure chat started — not stored").wait_for()
        assert jane.get_by_label("Message").is_hidden()  # the standard composer steps aside
        both_ways(jane, pane, "My salary: 52,400", "Thank you; line 5a then.")
        # Screen readers hear the line's messages as they hear the standard chat's.
        jane.locator("[aria-live=polite]", has_text="The advisor: Thank you; line 5a then.").wait_for(state="attached")
        assert len(set(codes(jane, pane))) == 1
        assert jane.get_by_text("Read this code aloud to the other side on a call").is_visible()
        jane.get_by_role("button", name="The codes match").click()
        pane.locator(".secure-verified", has_text="The customer confirmed the codes match.").wait_for()
        screenshot(jane, "secure-jane")
        screenshot(desk, "secure-advisor")

        jane.get_by_role("button", name="Back to standard chat").click()
        jane.get_by_role("status").filter(has_text="You returned to the standard chat.").wait_for()
        pane.get_by_role("status").filter(has_text="The other side returned to the standard chat.").wait_for()
        for page in (jane, pane):
            page.locator(".secure-marker", has_text="Secure chat ended — not stored").wait_for()
        assert pane.get_by_role("button", name="Switch to secure chat").is_visible()
        send(jane, "Back in the standard chat.")
        pane.locator(".message.in .body", has_text="Back in the standard chat.").wait_for()


UNREACHABLE = "198.51.100.7"  # TEST-NET-2: nothing answers there


def _unreachable(frame):
    """A frame with each ICE candidate's address replaced by one nothing answers at."""
    return re.sub(r"(a=candidate:\S+ \d \S+ \d+ )\S+( \d+ typ)", rf"\g<1>{UNREACHABLE}\g<2>", frame)


def _on_a_network_without_a_path(socket):
    """The advisor's socket, each description's candidates unreachable in both directions."""
    server = socket.connect_to_server()
    socket.on_message(lambda frame: server.send(_unreachable(frame)))
    server.on_message(lambda frame: socket.send(_unreachable(frame)))


def test_it_says_so_plainly_when_no_end_to_end_path_can_be_made(demo_server):
    with chromium() as browser:
        context = browser.new_context()
        context.route_web_socket(re.compile(r".*/ws/desk/$"), _on_a_network_without_a_path)
        jane, _, pane = in_conversation(demo_server, browser, desk_context=context)
        advisor_asks_jane_accepts(jane, pane)
        for page in (jane, pane):
            page.get_by_role("status").filter(has_text="No end-to-end path could be made").wait_for(timeout=40_000)
            assert page.get_by_label("Write securely").is_hidden()  # nothing can be written on it
        assert jane.get_by_label("Message").is_visible()  # the standard chat goes on, as it said
        for page in (jane, pane):  # the session's record: set up, never opened, so no secure chat took place
            page.locator(".secure-marker", has_text="The secure line could not be opened").wait_for()
            assert page.locator(".secure-marker", has_text="Secure chat").count() == 0


def _dump(database_url):
    pg_dump = require_binary("pg_dump")
    return subprocess.run([pg_dump, "--data-only", database_url], capture_output=True, text=True, check=True).stdout


def test_it_keeps_what_is_written_and_shared_on_the_secure_line_from_the_portal_and_the_core(fresh_database, tmp_path):
    canary, standard = f"canary-{uuid.uuid4().hex}", f"standard-{uuid.uuid4().hex}"
    portal = Portal(tmp_path, fresh_database)
    portal.core = Kamailio(tmp_path, defines=("LOG_SIP",))  # the SIP it receives, whole, in its log
    with portal, chromium() as browser:
        monitor_log = (tmp_path / "redis-monitor.log").open("w")
        monitor = subprocess.Popen([require_binary("redis-cli"), "-u", portal.redis.url, "monitor"], stdout=monitor_log)
        try:
            jane, desk, pane = in_conversation(portal.base, browser, line="Secure")
            send(jane, standard)  # the standard chat, which the portal and the core carry
            pane.locator(".message.in .body", has_text=standard).wait_for()
            pane.get_by_role("status").filter(has_text="The customer asks to switch").wait_for(timeout=30_000)
            pane.get_by_role("button", name="Accept secure chat").click()
            for page in (jane, pane):
                page.get_by_role("status").filter(has_text=SECURE_OPEN).wait_for(timeout=30_000)
            both_ways(jane, pane, f"{canary} from Jane", f"{canary} from the advisor")
            assert len(set(codes(jane, pane))) == 1
            shared = tmp_path / f"{canary}-figures.bin"  # the phrase in its name and inside it
            file_with(shared, 2 * 1024 * 1024, f"{canary} inside the file")
            share(jane, shared)
            arrived = transfer(pane, shared.name, arriving=True)
            arrived.get_by_text("Arrived intact").wait_for(timeout=30_000)
            jane_own, jane_received = fingerprints(jane)
            desk_own, desk_received = fingerprints(desk)
            assert (jane_received, desk_received) == (desk_own, jane_own)  # DTLS end to end, untouched
            assert "INVITE crossing the core" in portal.core.log_tail(2000)
            pane.get_by_role("button", name="Back to standard chat").click()
            jane.get_by_role("status").filter(has_text="The other side returned to the standard chat.").wait_for()
            jane.locator(".secure-marker", has_text="Secure chat ended — not stored").wait_for()
        finally:
            monitor.terminate()
            monitor.wait()
            monitor_log.close()
        dump = _dump(fresh_database)
    with psycopg.connect(fresh_database) as db:
        segments = db.execute(
            "SELECT asked_by_advisor, ended_at IS NOT NULL, opened_by_customer, opened_by_advisor"
            " FROM help_desk_securesegment"
        ).fetchall()
    assert segments == [(False, True, True, True)]  # Jane asked; both browsers had it open; it ended
    seen = {
        "the database": dump,
        "Redis": (tmp_path / "redis-monitor.log").read_text(errors="replace"),
        "the core's SIP": (tmp_path / "kamailio.log").read_text(errors="replace"),
        "daphne's log": (tmp_path / "daphne.log").read_text(errors="replace"),
        "the IMS side's log": (tmp_path / "ims.log").read_text(errors="replace"),
    }
    for where, text in seen.items():
        assert canary not in text, f"the secure chat's phrase is in {where}"
    for where in ("the database", "Redis", "the core's SIP"):  # each capture does see the chat it carries
        assert standard in seen[where], f"the standard chat's phrase is not in {where}"
    assert "webrtc-datachannel" in seen["the core's SIP"]
