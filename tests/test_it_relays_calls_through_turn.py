"""TURN as the browsers use it: the advisor on the desk and Jane on her help page each get ICE
servers from their own socket (portal-issued, time-limited credentials), and two
RTCPeerConnections allowed only relay candidates carry a data channel through coturn on
loopback. A credential whose expiry has passed opens no relay: coturn answers 401."""

import re
import time
from pathlib import Path

import pytest

from portal import turn
from tests.support.browser import chromium, screenshot
from tests.support.coturn import allocate, coturn
from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat
from tests.support.processes import demo_portal
from tests.support.services import require_binary

# A JS promise that settles within `ms` or rejects: page.evaluate has no timeout of its own.
BOUNDED = "const bounded = (promise, ms, what) => Promise.race([promise, new Promise((_, no) => setTimeout(() => no(new Error(what)), ms))]);"  # noqa: E501

# The servers the page's own socket handed to the page's ICE module (static/js/ice.js).
ISSUED = "async () => { const ice = await import('/static/js/ice.js'); await ice.received; return ice.iceServers; }"

# A relay-only peer connection on window.turnTest; returns its SDP once gathering is complete.
GATHER = """
  const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: "relay" });
  const test = window.turnTest = { pc, received: [], errors: [] };
  pc.addEventListener("icecandidateerror", (e) => test.errors.push(e.errorCode));
  const gathered = new Promise((resolve) => pc.addEventListener("icegatheringstatechange",
    () => { if (pc.iceGatheringState === "complete") resolve(); }));
"""
OFFER = f"""async (servers) => {{ {BOUNDED} {GATHER}
  window.turnTest.channel = pc.createDataChannel("turn-test");
  await pc.setLocalDescription(await pc.createOffer());
  await bounded(gathered, 20000, "gathering did not complete");
  return pc.localDescription.sdp;
}}"""
ANSWER = f"""async ([servers, offer]) => {{ {BOUNDED} {GATHER}
  pc.addEventListener("datachannel", ({{ channel }}) =>
    channel.addEventListener("message", (e) => test.received.push(e.data)));
  await pc.setRemoteDescription({{ type: "offer", sdp: offer }});
  await pc.setLocalDescription(await pc.createAnswer());
  await bounded(gathered, 20000, "gathering did not complete");
  return pc.localDescription.sdp;
}}"""
SEND = f"""async ([answer, text]) => {{ {BOUNDED}
  const {{ pc, channel }} = window.turnTest;
  await pc.setRemoteDescription({{ type: "answer", sdp: answer }});
  if (channel.readyState !== "open") await bounded(new Promise((ok) => channel.onopen = ok), 20000, "no channel");
  channel.send(text);
}}"""
SELECTED_PAIR = """async () => {
  const stats = await window.turnTest.pc.getStats();
  const transport = [...stats.values()].find((s) => s.type === "transport" && s.selectedCandidatePairId);
  const pair = stats.get(transport.selectedCandidatePairId);
  return [stats.get(pair.localCandidateId).candidateType, stats.get(pair.remoteCandidateId).candidateType];
}"""


@pytest.fixture
def relay(tmp_path):
    with coturn(tmp_path) as server:
        yield server


def test_it_connects_two_signed_in_pages_through_coturn(tmp_path, relay):
    env = {"TURN_URLS": relay.urls[0], "TURN_SECRET": relay.secret, "TURN_CREDENTIAL_SECONDS": "300"}
    with demo_portal(tmp_path, **env) as base, chromium() as browser:
        desk = advisor_desk(browser, base)
        jane = jane_asks_for_chat(browser, base)
        issued = {"desk": desk.evaluate(ISSUED), "jane": jane.evaluate(ISSUED)}
        for servers in issued.values():
            (server,) = servers
            assert server["urls"] == relay.urls
            assert 0 < int(server["username"].split(":")[0]) - time.time() <= 300
        assert issued["desk"][0]["username"] != issued["jane"][0]["username"]  # each her own credential
        offer = desk.evaluate(OFFER, issued["desk"])
        answer = jane.evaluate(ANSWER, [issued["jane"], offer])
        assert "typ relay" in offer
        assert "typ host" not in answer
        desk.evaluate(SEND, [answer, "Can you hear me through the relay?"])
        jane.wait_for_function("window.turnTest.received.includes('Can you hear me through the relay?')")
        assert desk.evaluate(SELECTED_PAIR) == ["relay", "relay"]
        assert jane.evaluate(SELECTED_PAIR) == ["relay", "relay"]
        screenshot(desk, "turn-relay-advisor")
    log = relay.log_path.read_text(errors="replace")
    for servers in issued.values():  # coturn allocated a relay for each portal-issued credential
        assert f"user <{servers[0]['username']}>: incoming packet ALLOCATE processed, success" in log


def test_it_gathers_no_relay_with_an_expired_credential(tmp_path, relay):
    expired = turn.turn_server(relay.urls, relay.secret, "user.1", int(time.time()) - 1)
    with chromium() as browser:
        page = browser.new_page()
        page.goto("about:blank")
        offer = page.evaluate(OFFER, [expired])
        errors = page.evaluate("window.turnTest.errors")
    assert "typ relay" not in offer
    assert 401 in errors
    refusal = f"user <{expired['username']}>: incoming packet message processed, error 401"
    assert refusal in relay.log_path.read_text(errors="replace")


def test_it_runs_a_coturn_of_its_own_in_the_demo(tmp_path):
    require_binary("turnserver")
    with demo_portal(tmp_path) as base, chromium() as browser:
        (server,) = advisor_desk(browser, base).evaluate(ISSUED)
        port = re.fullmatch(r"turn:127\.0\.0\.1:(\d+)\?transport=udp", server["urls"][0])
        assert port is not None
        assert allocate(int(port[1]), server["username"], server["credential"]) == 200
    started = re.search(r"TURN relay \(coturn\) at \S+, log in (\S+)", (tmp_path / "serve.log").read_text())
    assert started is not None
    assert not Path(started[1]).parent.exists()  # stopped with the demo, its pid file and log removed
