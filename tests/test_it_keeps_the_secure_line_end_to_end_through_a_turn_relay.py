"""The secure chat line where no direct path exists: the portal tells browsers to use only relay
candidates (ICE_TRANSPORT_POLICY=relay) of its coturn, so the data channel goes through the relay.
coturn forwards DTLS records it cannot read: the keys stay the two browsers' own, so both screens
still show the same code, and what Jane and her advisor write passes both ways."""

from tests.support.browser import chromium
from tests.support.coturn import coturn
from tests.support.helpdesk_browser import in_conversation
from tests.support.processes import demo_portal
from tests.support.secure_line import SECURE_OPEN, advisor_asks_jane_accepts, both_ways, codes, fingerprints

# The candidate types of the pair the line's connection selected.
SELECTED_PAIR = """async () => {
  const stats = [...(await portalSecureLine.pc.getStats()).values()];
  const pair = stats.find((s) => s.type === "candidate-pair" && s.nominated && s.state === "succeeded");
  const type = (id) => stats.find((s) => s.id === id).candidateType;
  return [type(pair.localCandidateId), type(pair.remoteCandidateId)];
}"""


def test_it_shows_the_same_code_on_both_sides_through_coturn(tmp_path):
    with coturn(tmp_path) as relay:
        env = {"TURN_URLS": relay.urls[0], "TURN_SECRET": relay.secret, "ICE_TRANSPORT_POLICY": "relay"}
        with demo_portal(tmp_path, **env) as base, chromium() as browser:
            jane, desk, pane = in_conversation(base, browser)
            advisor_asks_jane_accepts(jane, pane)
            for page in (jane, pane):
                page.get_by_role("status").filter(has_text=SECURE_OPEN).wait_for(timeout=30_000)
            both_ways(jane, pane, "My figures, through the relay", "Received, through the relay")
            jane_code, desk_code = codes(jane, pane)
            assert jane_code == desk_code
            jane_own, jane_received = fingerprints(jane)
            desk_own, desk_received = fingerprints(desk)
            assert (jane_received, desk_received) == (desk_own, jane_own)
            for page in (jane, desk):
                assert page.evaluate(SELECTED_PAIR) == ["relay", "relay"]
                offered = page.evaluate("() => portalSecureLine.pc.localDescription.sdp")
                assert "typ relay" in offered
                assert "typ host" not in offered  # the policy reached the page
        log = relay.log_path.read_text(errors="replace")
    assert "incoming packet ALLOCATE processed, success" in log
