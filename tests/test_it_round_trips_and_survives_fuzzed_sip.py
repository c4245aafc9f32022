"""parse(serialize(m)) == m for generated messages; malformed input only ever raises SipParseError."""

import asyncio
import logging
import random
from collections import Counter
from typing import TypeVar

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ims.service import ImsSide
from ims.trust import TrustedPeers
from sip.message import LIST_HEADERS, Request, Response, SipParseError, StreamParser, canonical_name, parse
from sip.transport import Peer
from tests.sip_peers import RawUdp

token = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~", min_size=1, max_size=12
)
value_chars = st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from(" äé€")
plain_value = st.text(alphabet=value_chars, min_size=1, max_size=40).map(str.strip).filter(bool)
names = st.sampled_from(["Via", "From", "To", "Call-ID", "CSeq", "Contact", "Subject", "X-Custom", "Route", "Allow"])


def _entry(name, value):
    name = canonical_name(name)
    if name in LIST_HEADERS:
        value = value.replace(",", ";").replace('"', "'").replace("<", "(").replace(">", ")")
    return (name, value)


headers = st.lists(st.builds(_entry, names | token, plain_value), max_size=15).map(
    lambda items: [(n, v) for n, v in items if n != "Content-Length"]
)
requests = st.builds(
    Request,
    headers=headers,
    body=st.binary(max_size=200),
    method=token,
    uri=plain_value.map(lambda v: v.replace(" ", "")).filter(bool),
)
responses = st.builds(
    Response, headers=headers, body=st.binary(max_size=200), status=st.integers(100, 699), reason=plain_value
)


@settings(max_examples=500, deadline=None)
@given(requests | responses)
def test_it_parses_what_it_serializes(message):
    assert parse(message.to_bytes()) == message
    assert list(StreamParser().feed(message.to_bytes())) == [message]


SEED = (
    b"MESSAGE sip:help-0001@ims.example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
    b"From: <sip:jane@ims.example.net>;tag=1\r\nTo: <sip:help-0001@ims.example.net>\r\nCall-ID: c1\r\n"
    b"CSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
)


def _mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(out) + 1)
        action = rng.randrange(5)
        if action == 0 and out:
            del out[position : position + rng.randint(1, 20)]
        elif action == 1:
            out[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
        elif action == 2:
            out[position:position] = rng.choice([b"\r\n", b":", b",", b"\r\n ", b"<", b'"', b"\x00", b"l: 9999\r\n"])
        elif action == 3 and out:
            out[position % len(out)] = rng.randrange(256)
        else:
            out[position:position] = out[: rng.randint(0, 30)]
    return bytes(out)


def test_it_turns_thousands_of_malformed_messages_into_parse_errors_only():
    rng = random.Random(3261)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(5000):
        data = _mutate(rng, SEED)
        for attempt in (parse, lambda chunk: list(StreamParser().feed(chunk))):
            try:
                attempt(data)
                outcomes["parsed"] += 1
            except SipParseError:
                outcomes["refused"] += 1
    assert outcomes["refused"] > 1000  # the fuzzing reached the error paths


# Whole datagrams for the IMS side, from parts both well formed and broken, so that the generated
# messages reach every answer: the handler's, 400, 403, 405, 416, 420, 501, 505, dropped.
METHODS = ["MESSAGE", "INVITE", "OPTIONS", "BYE", "CANCEL", "ACK"] * 3 + ["REGISTER", "PRACK", "X-Odd", "BAD METHOD"]
URIS = [
    "sip:help-0001@ims.example.net", "sip:help-0001@127.0.0.1:5060", "tel:+4930123456", "sips:a@b.example",
    "sip:help;x=1@ims.example.net", "mailto:a@b", "<sip:a@b>", "sip:a@b; lr", "sip:a@b?Route=x", "sip:", "x",
]  # fmt: skip
VERSIONS = ["SIP/2.0"] * 12 + ["SIP/3.0", "SIP/2.0  ", "sip/2.0", "SIP/2", "HTTP/1.1"]
# Per header: values well formed, then broken ones; a header takes a well-formed one mostly.
HEADERS = {
    "Via": (
        ["SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{n}", "SIP/2.0/TCP h.example;branch=z9hG4bK{n};rport",
         "SIP / 2.0 / UDP h ;branch = old{n}"],
        ["SIP/2.0/UDP h;branch=z9hG4bK", "SIP/2.0/UDP h;;", "SIP/2.0/UDP :0", "SIP/3.0/UDP h", "garbage", ""],
    ),
    "From": (
        ["<sip:jane@ims.example.net>;tag=j", "sip:jane@ims.example.net ;tag=j", '"J \\"D\\"" <sip:jane@x>;tag=j'],
        ['"open <sip:jane@x>', "Jane, Doe <sip:jane@x>", "< sip:jane@x >", "sip:j@x?a=b", "<>", ";tag=", ""],
    ),
    "To": (
        ["<sip:help-0001@ims.example.net>", "<sip:help-0001@ims.example.net>;tag=t", "sip:help-0001@x ;tag=t"],
        ["isbn:123", '"x', "<sip:a@b>;;", "<sip:a@b>garbage"],
    ),
    "Call-ID": (["c{n}@host", "c{n}"], ["with space", "", "a@b@c"]),
    "CSeq": (["1 {method}", "2 {method}"], ["1 OTHER", "99999999999 {method}", "{method}", "-1 {method}", ""]),
    "Max-Forwards": (["70", "0"], ["300", "x"]),
    "Content-Type": (["text/plain", "application/sdp"], ["multipart/mixed;boundary=x", "", "application/x"]),
    "Require": (["path"], ["100rel", "", "timer, path"]),
    "Accept": (["application/sdp", "text/plain"], ["text/nobodyKnowsThis"]),
    "P-Asserted-Identity": (["<sip:advisor@ims.example.net>", "<tel:+4930123>, <sip:a@b>"], ["<broken", ""]),
    "P-Called-Party-ID": (["<sip:help-0001@ims.example.net>"], ['"broken']),
    "Contact": (["<sip:jane@127.0.0.1:9>", "*"], ["sip:j@x?r=1", '"open <sip:a@b>']),
    "Content-Length": (["{length}"], ["0", "99999", "-5", "x"]),
}  # fmt: skip
T = TypeVar("T")
REQUIRED = ["Via", "From", "To", "Call-ID", "CSeq"]
OPTIONAL = [name for name in HEADERS if name not in REQUIRED]


class _Choices:
    """Picks made from bytes hypothesis draws in one go (drawing each pick alone is ten times
    slower); shrunk toward zero bytes, every pick goes to the first, well-formed, part."""

    def __init__(self, entropy: bytes) -> None:
        self.entropy, self.at = entropy, 0

    def number(self, below: int) -> int:
        self.at += 1
        return self.entropy[(self.at - 1) % len(self.entropy)] % below

    def pick(self, options: list[T]) -> T:
        return options[self.number(len(options))]

    def value(self, name: str) -> str:
        good, bad = HEADERS[name]
        return self.pick(bad) if self.number(20) == 0 else self.pick(good)


def _headers(choose: _Choices) -> list[str]:
    """The required headers, now and then one missing or twice, and a few others."""
    names = [name for name in REQUIRED if choose.number(40)] + [choose.pick(OPTIONAL) for _ in range(choose.number(5))]
    if choose.number(20) == 0:
        names.append(choose.pick(REQUIRED))
    return names


def _datagram(entropy: bytes) -> bytes:
    """A start line, headers (compact or odd spellings, some folded), a body, and now and then
    bytes mutated."""
    choose = _Choices(entropy)
    method, n = choose.pick(METHODS), int.from_bytes(entropy[:3])
    body: bytes = choose.pick([b"", b"hello", b"v=0\r\n", "\u00e9\u20ac".encode(), b"\x00\xff"])
    status = choose.pick(["200 OK", "100 ", "4294967301 big", "487 x"])
    response = choose.number(10) == 9
    lines = [
        f"SIP/2.0 {status}" if response else f"{method} {choose.pick(URIS[:3] * 4 + URIS)} {choose.pick(VERSIONS)}"
    ]
    for name in _headers(choose):
        value = choose.value(name).format(n=n, method=method, length=len(body))
        spelling = choose.pick([name, name, name.lower(), name.upper(), {"Via": "v", "To": "t"}.get(name, name)])
        lines.append(f"{spelling}:\r\n {value}" if choose.number(20) == 0 else f"{spelling}: {value}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    if choose.number(10) == 0:
        at = choose.number(256) * len(data) // 256
        data = data[:at] + entropy[-choose.number(7) :] + data[at + choose.number(4) :]
    return data


datagrams = st.binary(min_size=64, max_size=64).map(_datagram)


@pytest.mark.django_db(transaction=True)
def test_it_survives_ten_thousand_generated_datagrams_at_the_ims_side(caplog):
    """Each goes the way a datagram goes (UdpTransport.deliver), from the proxy's address or a
    stranger's, to the IMS side's user agent and handler: no exception escapes, nothing is answered
    500, and the answers show every refusal was reached."""
    loop = asyncio.new_event_loop()
    side, agent, proxy, stranger = loop.run_until_complete(_ims_side())
    answers: Counter[int] = Counter()

    # The same 10,000 every run (derandomized), so what they reach is the code's doing, not chance's.
    @settings(max_examples=100, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(datagrams, st.booleans()), min_size=100, max_size=100))
    def feed(batch):
        loop.run_until_complete(
            _delivered(agent, [(data, (proxy if trusted else stranger).peer) for data, trusted in batch])
        )

    try:
        feed()
        loop.run_until_complete(_settled())
        for source in (proxy, stranger):
            while not source.received.empty():
                message, _ = source.received.get_nowait()
                answers[message.status] += 1
    finally:
        side.close()
        proxy.close()
        stranger.close()
        loop.run_until_complete(sync_to_async(connections.close_all)())
        loop.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert answers[500] == 0
    assert {400, 403, 404, 405, 415, 416, 420, 481, 501, 505} <= set(answers), answers  # 406: RFC 4475 sdp01
    assert sum(answers[status] for status in (200, 404, 405, 481, 501)) > 500  # handled as well formed
    assert agent.stats["malformed dropped"] > 1000


async def _ims_side():
    side = ImsSide(trust=TrustedPeers(["127.0.0.1"]))
    agent = await side.agent_for(Peer("UDP", "127.0.0.1", 5060))
    return side, agent, await RawUdp.start(), await RawUdp.start("127.0.0.2")


async def _delivered(agent, datagrams):
    """Handed over as the UDP socket's reader does, inside the loop, then until all is answered."""
    for data, peer in datagrams:
        agent.transport.deliver(data, peer)
    await _settled()


async def _settled():
    """Until every handler started has answered (a database look-up for MESSAGE and INVITE)."""
    current = asyncio.current_task()
    if pending := [task for task in asyncio.all_tasks() if task is not current and not task.done()]:
        done, left = await asyncio.wait(pending, timeout=10.0)
        assert not left, [task.get_coro() for task in left]
        assert not [task.exception() for task in done if not task.cancelled() and task.exception()]
    await asyncio.sleep(0.01)  # the answers' datagrams to reach the peers' sockets
