"""A browser (WebRTC: ICE, DTLS-SRTP, Opus) and a non-WebRTC G.711 phone (sipp: plain RTP/AVP,
PCMU) talk through rtpengine, which the IMS side drives over its NG protocol as the eIMS-AGW; the
call is set up from each side. Content both ways, not only packets: the browser captures 440 Hz,
the phone plays 1 kHz; the browser's received audio (Web Audio) peaks at 1 kHz and the PCMU the
phone received decodes to 440 Hz. The call is reported `converted`, PCMU on the IMS side.

Everything real: rtpengine (userspace, its own ports), Kamailio as the core, the portal in its
production shape (PostgreSQL, Redis, daphne, `run_ims`), Chromium with Mary's page driven as she
would (Call to, Call, Answer, Hang up), sipp."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from ims.rtpengine import RtpEngine as NgClient
from ims.rtpengine import RtpEngineError
from tests.support.browser import chromium, screenshot
from tests.support.identity_page import identity_page
from tests.support.kamailio import DOMAIN, PASSWORD
from tests.support.media import capturing, connection_state, heard, inbound_audio, remote_description, tone_wav, until
from tests.support.parts import Portal
from tests.support.phone import RtpCapture, dominant_hz, finished, free_udp_range, phone, rtpengine, tone_pcap
from tests.support.services import free_port

BROWSER_HZ, PHONE_HZ = 440.0, 1000.0


@pytest.fixture
def gateway(tmp_path):
    process = rtpengine(tmp_path)
    yield process
    process.stop()


@pytest.fixture
def portal(fresh_database, tmp_path, gateway):
    with Portal(tmp_path, fresh_database, IMS_RTPENGINE_NG=":".join(map(str, gateway.address))) as running:
        yield running


@pytest.fixture
def mary(portal, tmp_path):
    """Mary's /identity/ page in a Chromium whose microphone plays 440 Hz, her identity registered."""
    wav = tone_wav(tmp_path / "browser.wav", BROWSER_HZ, seconds=10)
    with chromium(*capturing(wav), "--allow-loopback-in-peer-connection") as browser:
        yield identity_page(browser, portal, "mary", "mary-demo")


@pytest.fixture
def phone_line(tmp_path):
    """(SIP port, media port, what arrives at the media port, the tone the phone plays)."""
    media_port = free_udp_range(4)[0]
    capture = RtpCapture(media_port)
    capture.start()
    yield free_port(), media_port, capture, tone_pcap(tmp_path / "phone.pcap", PHONE_HZ, seconds=15)
    capture.stop()


def _near(peak, hz):
    return peak if abs(peak["hz"] - hz) < 12 and peak["db"] > -70 else None


def _hears_the_phone(page):
    """ICE and DTLS up, Opus arriving, and in it the phone's 1 kHz."""
    until(lambda: connection_state(page) == "connected", 20, "the browser's ICE/DTLS to rtpengine")
    until(lambda: _near(heard(page), PHONE_HZ), 20, "1 kHz in the browser's received audio")
    assert inbound_audio(page)["codec"] == "audio/opus"


def _phone_heard_the_browser(capture):
    received = capture.pcmu()
    assert len(received) >= 2 * 8000, f"the phone received {len(received) / 8000:.1f} s of PCMU"
    assert abs(dominant_hz(received[-2 * 8000 :]) - BROWSER_HZ) < 10


def _converted(page):
    """The call's bubble in Mary's call log says so, and the browser's side is WebRTC's."""
    expect(page.locator(".call-status")).to_have_text("Call in progress", timeout=20_000)
    expect(page.locator(".call-bubble")).to_contain_text("converted to PCMU")
    remote = remote_description(page)
    assert "UDP/TLS/RTP/SAVPF" in remote  # DTLS-SRTP with ICE toward the browser
    assert "opus/48000" in remote


def _key(page):
    return page.evaluate("[...globalThis.portalCalls.keys()].at(-1)")


def _anchored(gateway, key):
    """What rtpengine holds of the call (its call-id is the portal's key for the call), or None."""
    with ThreadPoolExecutor(1) as thread:  # Playwright's own loop runs in this one
        try:
            return thread.submit(asyncio.run, NgClient(*gateway.address).query(key)).result()
        except RtpEngineError:
            return None


def _through_the_gateway(gateway, key):
    """Both sides anchored at rtpengine under their tags, until the call ends and it is deleted."""
    held = _anchored(gateway, key)
    assert held is not None
    assert {"browser", "ims"} <= set(held["tags"])


def test_it_calls_a_g711_phone_from_the_browser(portal, gateway, mary, phone_line, tmp_path):
    sip_port, media_port, capture, pcap = phone_line
    common = dict(core_port=portal.core.udp, sip_port=sip_port, media_port=media_port, workdir=tmp_path, pcap=pcap)
    register = phone("register", fields=[DOMAIN, "phone"], auth=(f"phone@{DOMAIN}", PASSWORD), talk_ms=0, **common)
    finished(register, tmp_path)
    answering = phone("answer_and_play", fields=[], talk_ms=0, **common)
    mary.get_by_label("Call to").fill(f"phone@{DOMAIN}")
    mary.get_by_role("button", name="Call", exact=True).click()
    _converted(mary)
    _hears_the_phone(mary)
    until(lambda: len(capture.pcmu()) >= 3 * 8000, 15, "3 s of PCMU at the phone")
    key = _key(mary)
    _through_the_gateway(gateway, key)
    screenshot(mary, "g711-phone-called-from-the-browser")
    mary.get_by_role("button", name="Hang up").click()
    finished(answering, tmp_path)  # the phone got the offer, the ACK and the BYE
    expect(mary.locator(".call-bubble")).to_contain_text(f"to sip:phone@{DOMAIN}")
    _phone_heard_the_browser(capture)
    until(lambda: _anchored(gateway, key) is None, 10, "the call deleted from rtpengine")


def test_it_rings_the_browser_for_a_g711_phone(portal, gateway, mary, phone_line, tmp_path):
    sip_port, media_port, capture, pcap = phone_line
    other_window = mary.context.new_page()
    other_window.goto(portal.base + "/identity/")
    other_window.locator("body[data-live=yes]").wait_for()
    impu = mary.locator("#impu").inner_text()
    user, domain = impu.removeprefix("sip:").split("@")
    calling = phone(
        "call_and_play", core_port=portal.core.udp, sip_port=sip_port, media_port=media_port, workdir=tmp_path,
        pcap=pcap, talk_ms=10_000, service=user, fields=[domain, "", "phone"],
    )  # fmt: skip
    expect(mary.locator(".call-status")).to_have_text("Incoming call", timeout=20_000)
    expect(other_window.locator(".call-status")).to_have_text("Incoming call")  # every window of hers rings
    mary.get_by_role("button", name="Answer").click()
    expect(other_window.locator(".call-status")).to_have_text("Answered in another window.")
    _converted(mary)
    assert "a=fingerprint" in remote_description(mary)  # rtpengine's DTLS toward the browser
    _hears_the_phone(mary)
    until(lambda: len(capture.pcmu()) >= 3 * 8000, 15, "3 s of PCMU at the phone")
    _through_the_gateway(gateway, _key(mary))
    expect(mary.locator(".call-bubble")).to_contain_text("from sip:phone@")
    finished(calling, tmp_path)  # the phone hangs up after talking
    expect(mary.locator(".call-status")).to_have_text("The other side hung up.", timeout=10_000)
    _phone_heard_the_browser(capture)
