"""Mary and her colleague Alex (the demo's advisor), two portal users, call each other directly
(use case H.4: the third party's application facilitates sessions between WebRTC clients; the
IMS carries those with other endpoints): WebRTC to WebRTC, the portal relaying the signalling over
its sockets. Mary types part of his name and picks him from the suggestions; every open window of his rings (his
communications page and his desk), he answers in one and the other stops. Then he calls her back
at her identity. Each browser received the other's own DTLS fingerprint (nothing in between made
its own), each hears the other's tone, the call records say `direct`, and Kamailio, the core both
identities are registered at, never saw an INVITE (it logs every request it receives)."""

from __future__ import annotations

import psycopg
import pytest
from playwright.sync_api import expect

from tests.support.browser import chromiums, screenshot
from tests.support.identity_page import identity_page, pick_colleague
from tests.support.media import capturing, connection_state, fingerprints, heard, tone_wav, until
from tests.support.parts import Portal

MARY_HZ, ALEX_HZ = 440.0, 880.0
IN_PROGRESS = "Call in progress"


@pytest.fixture
def portal(fresh_database, tmp_path):
    running = Portal(tmp_path, fresh_database)
    running.core.defines = ("LOG_SIP",)  # every request Kamailio receives, in its log
    with running:
        yield running


@pytest.fixture
def people(portal, tmp_path):
    """(Alex's communications page, his desk, Mary's page), each microphone its own tone."""
    tones = [tone_wav(tmp_path / f"{hz:.0f}.wav", hz, seconds=10) for hz in (ALEX_HZ, MARY_HZ)]
    loopback = "--allow-loopback-in-peer-connection"
    with chromiums(*[[*capturing(tone), loopback] for tone in tones]) as (his_browser, her_browser):
        alex = identity_page(his_browser, portal, "advisor", "advisor-demo")  # he holds an identity first
        desk = alex.context.new_page()
        desk.goto(portal.base + "/desk/")
        desk.locator("body[data-live=yes]").wait_for()
        yield alex, desk, identity_page(her_browser, portal, "mary", "mary-demo")


def _near(page, hz):
    peak = heard(page)
    return abs(peak["hz"] - hz) < 12 and peak["db"] > -70


def _talking(caller, callee, caller_hz, callee_hz):
    for page in (caller, callee):
        expect(page.locator(".call-status").first).to_have_text(IN_PROGRESS, timeout=20_000)
        until(lambda page=page: connection_state(page) == "connected", 20, "ICE and DTLS between the browsers")
    caller_own, caller_received = fingerprints(caller)
    callee_own, callee_received = fingerprints(callee)
    assert caller_own != callee_own
    assert caller_received == callee_own  # each got the other's own: no media relay in between
    assert callee_received == caller_own
    until(lambda: _near(caller, callee_hz), 20, f"{callee_hz} Hz in the caller's received audio")
    until(lambda: _near(callee, caller_hz), 20, f"{caller_hz} Hz in the callee's received audio")
    expect(caller.locator(".call-bubble").last).to_contain_text("direct, browser to browser")


def _records(database_url):
    with psycopg.connect(database_url) as db:
        query = "SELECT media, callee_id IS NOT NULL, answered_at IS NOT NULL FROM ims_callrecord ORDER BY id"
        return db.execute(query).fetchall()


def test_it_calls_a_colleague_directly_and_he_calls_back(portal, people, fresh_database):
    alex, desk, mary = people
    pick_colleague(mary, "Call to", "web", "Alex Weber")  # the directory offers him by part of his name
    mary.get_by_role("button", name="Call", exact=True).click()
    expect(alex.locator(".call-status")).to_have_text("Incoming call", timeout=20_000)
    dock = desk.locator("#phone-dock")
    expect(dock.locator(".call-status")).to_have_text("Incoming call")  # his desk rings too
    alex.get_by_role("button", name="Answer").click()
    expect(dock.locator(".call-status")).to_have_text("Answered in another window.")
    _talking(mary, alex, MARY_HZ, ALEX_HZ)
    screenshot(mary, "direct-call-mary")
    mary.get_by_role("button", name="Hang up").click()
    expect(alex.locator(".call-status")).to_have_text("The other side hung up.", timeout=10_000)

    alex.get_by_label("Call to").fill(mary.locator("#impu").inner_text())
    alex.get_by_role("button", name="Call", exact=True).click()
    expect(mary.locator(".call-status")).to_have_text("Incoming call", timeout=20_000)
    mary.get_by_role("button", name="Answer").click()
    _talking(alex, mary, ALEX_HZ, MARY_HZ)
    alex.get_by_role("button", name="Hang up").click()
    expect(mary.locator(".call-status")).to_have_text("The other side hung up.", timeout=10_000)

    assert _records(fresh_database) == [("direct", True, True), ("direct", True, True)]
    log = (portal.workdir / "kamailio.log").read_text(errors="replace")
    assert log.count("REGISTER sip:") >= 2  # the log sees what reaches the core: both registered there
    assert "INVITE sip:" not in log
    assert "INVITE crossing the core" not in log
