"""Each malformed or unservable request gets the status RFC 3261 gives it before any handler sees
it (400 with a Warning saying why, 505, 416, 420 with Unsupported), never a 500 or silence; the
well-formed request beside each (a To without <> and a space before ;tag among them) is served."""

import pytest

from sip.headers import NameAddr
from tests.sip_peers import RawUdp, udp_agent

GOOD = {
    "start": "MESSAGE sip:help-0001@ims.example.net SIP/2.0",
    "Via": "SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{n}",
    "From": "<sip:jane@ims.example.net>;tag=j1",
    "To": "<sip:help-0001@ims.example.net>",
    "Call-ID": "call-{n}",
    "CSeq": "1 MESSAGE",
}


def _datagram(n, **changes):
    """GOOD with headers replaced (a list value: the header repeated), dropped (None), or added."""
    fields = {**GOOD, **changes}
    lines = [fields.pop("start")]
    for name, value in fields.items():
        for one in value if isinstance(value, list) else [] if value is None else [value]:
            lines.append(f"{name}: {one.format(n=n)}")
    return ("\r\n".join(lines) + "\r\nContent-Length: 2\r\n\r\nhi").encode()


CASES = [
    # (changes, status, a header of the answer and what it says)
    ({"To": '"Mr. J. User <sip:help-0001@ims.example.net>'}, 400, ("Warning", "unterminated quoted")),
    ({"From": "Jane, Doe <sip:jane@ims.example.net>;tag=j1"}, 400, ("Warning", "display name")),
    ({"To": "< sip:help-0001@ims.example.net >"}, 400, ("Warning", "malformed <uri>")),
    ({"From": "sip:jane@ims.example.net?Route=x;tag=j1"}, 400, ("Warning", "malformed address")),
    ({"start": "MESSAGE sip:help-0001@ims.example.net SIP/3.0"}, 505, ("Warning", "SIP/3.0 is not supported")),
    ({"Via": "SIP/2.0/UDP 127.0.0.1:9;;branch=z9hG4bK{n}"}, 400, ("Warning", "malformed parameters")),
    ({"Via": ["SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{n}", "SIP/2.0/UDP :99999"]}, 400, ("Warning", "Via")),
    ({"start": "MESSAGE mailto:help@ims.example.net SIP/2.0"}, 416, ("Warning", "mailto URIs are not served")),
    ({"Require": "100rel, timer"}, 420, ("Unsupported", "100rel, timer")),
    ({"To": ["<sip:help-0001@ims.example.net>", "<sip:help-0002@ims.example.net>"]}, 400, ("Warning", "one To")),
    ({"Call-ID": ["call-{n}", "other-{n}"]}, 400, ("Warning", "one Call-ID")),
    ({"CSeq": ["1 MESSAGE", "2 MESSAGE"]}, 400, ("Warning", "one CSeq")),
    ({"From": None}, 400, ("Warning", "missing From")),
]


@pytest.mark.parametrize(("changes", "status", "header"), CASES)
async def test_it_refuses_before_handling(changes, status, header):
    handled = []

    async def handler(request, transaction):
        handled.append((NameAddr.parse(request["To"]).tag, NameAddr.parse(request["From"]).uri))
        transaction.respond(advisor.response(request, 200, "OK"))

    advisor, raw = await udp_agent(handler), await RawUdp.start()
    try:
        raw.send(_datagram(1, **changes), advisor.transport.local)
        answer = await raw.next_response()
        assert answer.status == status
        name, says = header
        assert says in ", ".join(answer.get_all(name))
        # Beside it, the well-formed one, with a To of addr-spec form and spaces before its tag.
        raw.send(_datagram(2, To="sip:help-0001@ims.example.net ;tag=t1"), advisor.transport.local)
        assert (await raw.next_response()).status == 200
        assert handled == [("t1", "sip:jane@ims.example.net")]
    finally:
        advisor.close()
        raw.close()
