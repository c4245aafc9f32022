import pytest

from sip.headers import NameAddr
from sip.message import Request, Response, SipParseError, StreamParser, check_request, parse

INVITE = (
    b"INVITE sip:help-0001@ims.example.net SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9, SIP/2.0/TCP proxy.example.net;branch=z9hG4bK1\r\n"
    b"Max-Forwards: 70\r\n"
    b'f: "Jane, Doe" <sip:jane@ims.example.net>;tag=9fxced76sl\r\n'
    b"TO: <sip:help-0001@ims.example.net>\r\n"
    b"i: 3848276298220188511@192.0.2.1\r\n"
    b"CSeq: 2 INVITE\r\n"
    b"Subject: a folded\r\n\t subject\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n\r\n"
    b"v=0\r\nignored-extra-bytes"
)


def test_it_reads_compact_folded_multi_value_headers():
    message = parse(INVITE)
    assert isinstance(message, Request)
    assert (message.method, message.uri) == ("INVITE", "sip:help-0001@ims.example.net")
    assert message.get_all("via") == [
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9",
        "SIP/2.0/TCP proxy.example.net;branch=z9hG4bK1",
    ]
    assert message["From"] == '"Jane, Doe" <sip:jane@ims.example.net>;tag=9fxced76sl'
    assert message["to"] == "<sip:help-0001@ims.example.net>"
    assert message["Subject"] == "a folded subject"
    assert message.body == b"v=0\r"  # Content-Length frames the body on a datagram too
    assert message.cseq == (2, "INVITE")
    check_request(message)


def test_it_round_trips_a_response():
    response = parse(b'SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm="a", nonce="b"\r\n\r\n')
    assert isinstance(response, Response)
    assert (response.status, response.reason) == (401, "Unauthorized")
    assert response["WWW-Authenticate"] == 'Digest realm="a", nonce="b"'  # not split at its commas
    assert parse(response.to_bytes()) == response


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"INVITE sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n", "malformed header line"),
        (b"INVITE sip:a@b SIP/2.0\r\n continuation\r\n\r\n", "continuation line"),
        (b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 99\r\n\r\nshort", "exceeds"),
        (b"INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        (b"INVITE sip:a@b SIP/2.0\r\nX: \xff\xfe\r\n\r\n", "not UTF-8"),
        (b"HELLO\r\n\r\n", "not a SIP request"),
        (b"INVITE sip:a@b SIP/2.0\r\nTo: x", "no blank line"),
    ],
)
def test_it_explains_what_is_malformed(raw, reason):
    with pytest.raises(SipParseError, match=reason):
        parse(raw)


def test_it_keeps_a_malformed_request_answerable_with_a_400():
    with pytest.raises(SipParseError) as error:
        parse(b"MESSAGE sip:a@b SIP/2.0\r\nbroken header\r\n\r\n")
    assert error.value.answerable is not None
    assert error.value.answerable.method == "MESSAGE"


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [("CSeq", "1 INVITE", "CSeq does not match"), ("Max-Forwards", "many", "Max-Forwards")],
)
def test_it_checks_the_mandatory_headers(header, value, reason):
    request = parse(INVITE.replace(b"INVITE sip", b"MESSAGE sip").replace(b"2 INVITE", b"2 MESSAGE"))
    assert isinstance(request, Request)
    request.set(header, value)
    with pytest.raises(SipParseError, match=reason):
        check_request(request)
    request.remove("Call-ID")
    with pytest.raises(SipParseError, match="missing Call-ID"):
        check_request(request)


def test_it_frames_messages_split_anywhere_on_a_stream():
    one = parse(INVITE).to_bytes()
    data = b"\r\n\r\n" + one + one
    for cut in (1, 7, len(one) - 3, len(one) + 5):
        stream = StreamParser()
        got = list(stream.feed(data[:cut])) + list(stream.feed(data[cut:]))
        assert got[0] == b"\r\n"  # the RFC 5626 keep-alive ping, answered by the transport
        assert [m for m in got[1:]] == [parse(one), parse(one)]


def test_it_requires_content_length_on_streams():
    with pytest.raises(SipParseError, match="Content-Length is required"):
        list(StreamParser().feed(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"))


@pytest.mark.parametrize(
    ("text", "uri", "display", "tag"),
    [
        ("sip:help-0001@ims.example.net ;tag=t1", "sip:help-0001@ims.example.net", "", "t1"),
        ('"J Rosenberg \\\\\\"" <sip:jdrosen@example.com> ; tag = 98asjd8', "sip:jdrosen@example.com",
         'J Rosenberg \\"', "98asjd8"),
        ("caller<sip:caller@example.com>;tag=323", "sip:caller@example.com", "caller", "323"),
        ("token1~` token2'+_ <sip:m@example.com>", "sip:m@example.com", "token1~` token2'+_", None),
    ],
)  # fmt: skip
def test_it_reads_addresses_in_every_form_the_grammar_allows(text, uri, display, tag):
    address = NameAddr.parse(text)
    assert (address.uri, address.display, address.tag) == (uri, display, tag)
    assert NameAddr.parse(str(address)) == address


@pytest.mark.parametrize(
    "text",
    ['"Mr. J. User <sip:j.user@example.com>', "Bell, Alexander <sip:a@b>", "< sip:a@b >", "sip:a@b?Route=x", "<>"],
)
def test_it_refuses_addresses_the_grammar_does_not_allow(text):
    with pytest.raises(SipParseError):
        NameAddr.parse(text)
