"""parse(serialize(m)) == m for generated messages; malformed input only ever raises SipParseError."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sip.message import LIST_HEADERS, Request, Response, SipParseError, StreamParser, canonical_name, parse

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
