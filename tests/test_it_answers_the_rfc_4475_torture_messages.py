"""RFC 4475's 49 torture messages, each sent to the IMS side's UDP socket from its proxy's address,
answered as the RFC says: a valid request as any other (the method's answer, a 404 for an identity
nobody holds), a malformed one 400 with a Warning saying why, 505 to another version, 416 to a
scheme not served, 420 naming the extensions required, 405/501 with Allow, 415 with Accept, 406;
a response matching no transaction is dropped, whether well formed or not."""

from pathlib import Path

import pytest

from ims.service import ImsSide
from ims.trust import TrustedPeers
from sip.message import Response, parse
from sip.transport import Peer
from tests.sip_peers import RawUdp

pytestmark = pytest.mark.usefixtures("close_sync_thread_connections")

MESSAGES = Path(__file__).parent / "rfc4475"
ALLOW = ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE")
WARNING = ("Warning", "399")
DROPPED, STRAY = "malformed dropped", "stray responses"

# file: the final status (or, for a response, how it is dropped) and headers the answer starts so.
EXPECTED = {
    # §3.1.1 valid messages: parsed and served.
    "wsinv": (481, ()),  # its To has a tag: a request of a dialog this side does not have
    "intmeth": (501, (ALLOW,)),
    "esc01": (404, ()),
    "escnull": (405, (ALLOW,)),  # REGISTER: known, not served by a user agent
    "esc02": (501, (ALLOW,)),  # RE%47IST%45R is not REGISTER
    "lwsdisp": (200, ()),
    "longreq": (404, ()),
    "dblreq": (405, (ALLOW,)),  # the REGISTER; the INVITE after it in the datagram is ignored
    "semiuri": (200, ()),
    "transports": (200, ()),
    "mpart01": (415, (("Accept", "text/plain"),)),
    "unreason": (STRAY, ()),
    "noreason": (STRAY, ()),
    # §3.1.2 invalid messages.
    "badinv01": (400, (WARNING,)),
    "clerr": (400, (WARNING,)),
    "ncl": (400, (WARNING,)),
    "scalar02": (400, (WARNING,)),
    "scalarlg": (DROPPED, ()),
    "quotbal": (400, (WARNING,)),
    "ltgtruri": (400, (WARNING,)),
    "lwsruri": (400, (WARNING,)),
    "lwsstart": (400, (WARNING,)),
    "trws": (400, (WARNING,)),
    "escruri": (400, (WARNING,)),
    "baddate": (404, ()),  # the Date is not used, so not a reason to refuse
    "regbadct": (400, (WARNING,)),
    "badaspec": (400, (WARNING,)),
    "baddn": (400, (WARNING,)),
    "badvers": (505, (WARNING,)),
    "mismatch01": (400, (WARNING,)),
    "mismatch02": (400, (WARNING,)),
    "bigcode": (DROPPED, ()),
    # §3.2 transaction layer.
    "badbranch": (400, (WARNING,)),
    # §3.3 application layer.
    "insuf": (400, (WARNING,)),
    "unkscm": (416, (WARNING,)),
    "novelsc": (416, (WARNING,)),
    "unksm2": (405, (ALLOW,)),
    "bext01": (420, (("Unsupported", "nothingSupportsThis, nothingSupportsThisEither"),)),
    "invut": (415, (("Accept", "application/sdp"),)),
    "regaut01": (405, (ALLOW,)),
    "multi01": (400, (WARNING,)),
    "mcl01": (400, (WARNING,)),
    "bcast": (STRAY, ()),
    "zeromf": (200, ()),
    "cparam01": (405, (ALLOW,)),
    "cparam02": (405, (ALLOW,)),
    "regescrt": (405, (ALLOW,)),
    "sdp01": (406, (WARNING,)),
    # §3.4 backward compatibility: RFC 2543 syntax, no branch, no From tag, no Content-Length.
    "inv2543": (404, ()),
}

PROBE = (
    b"OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKprobe\r\n"
    b"From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:probe@127.0.0.1>\r\nCall-ID: probe\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_it_has_every_message_of_the_rfc():
    assert sorted(path.stem for path in MESSAGES.glob("*.dat")) == sorted(EXPECTED)


async def _final(core: RawUdp) -> Response:
    while True:
        response = await core.next_response(timeout=5.0)
        if response.status >= 200:
            return response


# The valid INVITEs and MESSAGE reach the IMS side's handler, which looks the called identity up.
LOOKED_UP = {"esc01", "longreq", "baddate", "inv2543", "mpart01"}
CASES = [
    pytest.param(name, marks=[pytest.mark.django_db(transaction=True)] if name in LOOKED_UP else [])
    for name in sorted(EXPECTED)
]


@pytest.mark.parametrize("name", CASES)
async def test_it_answers_as_rfc_4475_says(name):
    expected, headers = EXPECTED[name]
    side = ImsSide(trust=TrustedPeers(["127.0.0.1"]))
    agent = await side.agent_for(Peer("UDP", "127.0.0.1", 5060))
    core = await RawUdp.start()
    try:
        core.send((MESSAGES / f"{name}.dat").read_bytes(), agent.transport.local)
        if isinstance(expected, str):  # a response: nothing answers it, and it went where it belongs
            core.send(PROBE, agent.transport.local)
            probe = await _final(core)
            assert probe.call_id == "probe"
            assert agent.stats[expected] == 1
            return
        answer = await _final(core)
        assert answer.status == expected, answer.get("Warning")
        for header, start in headers:
            assert ", ".join(answer.get_all(header)).startswith(start), answer
        if expected in (400, 416, 505):  # the Warning says why, and it is ours (§20.43)
            assert f"399 {agent.transport.local[0]} " in (answer.get("Warning") or "")
    finally:
        core.close()
        side.close()


def test_it_parses_the_valid_messages_into_what_they_say():
    wsinv = parse((MESSAGES / "wsinv.dat").read_bytes())
    assert wsinv.get_all("Via")[1:] == [
        "SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8",
        "SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239",
    ]
    assert wsinv.cseq == (9, "INVITE")
    assert wsinv["Max-Forwards"] == "0068"
    dblreq = parse((MESSAGES / "dblreq.dat").read_bytes())
    assert (dblreq.body, dblreq.call_id) == (b"", "dblreq.0ha0isndaksdj99sdfafnl3lk233412")
