"""SIP messages (RFC 3261 §7, §20): parsing, serializing, and framing on stream transports.

Headers keep their order. Names are compared case-insensitively and compact forms are expanded,
so `v:` and `VIA:` are both Via. Comma-separated values of list headers (Via, Contact, Route, ...)
become one entry each, which makes a parsed message equal to the parse of its serialization.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 256 * 1024
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 256

COMPACT = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "o": "Event", "r": "Refer-To", "s": "Subject", "t": "To",
    "u": "Allow-Events", "v": "Via", "x": "Session-Expires", "y": "Identity",
}  # fmt: skip
# The canonical spelling of names whose capitalization is not just title case.
_SPECIAL = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
}
# Headers whose value is a comma-separated list (RFC 3261 §7.3.1); auth headers are not.
LIST_HEADERS = {
    "Via", "Contact", "Route", "Record-Route", "Path", "Service-Route", "Allow", "Supported", "Require",
    "Proxy-Require", "Unsupported", "Accept", "Accept-Encoding", "Accept-Language", "Allow-Events",
    "Content-Encoding", "In-Reply-To", "P-Associated-URI", "P-Asserted-Identity", "Security-Client",
    "Security-Server", "Security-Verify",
}  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_REQUEST_LINE = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP/2\.0")
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6]\d\d) ([^\r\n]*)")
# What a request line looks like to answer it at all: any spacing, any URI, any version (§21.5.6).
_LOOSE_REQUEST_LINE = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+(.*?)[ \t]+SIP/(\d+\.\d+)[ \t]*")
_WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_CALL_ID = re.compile(rf"{_WORD}(?:@{_WORD})?")  # word [ "@" word ] (§25.1)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
# Headers a request carries at most once (§20; RFC 4475 §3.3.8).
SINGLE_HEADERS = ("To", "From", "Call-ID", "CSeq", "Max-Forwards", "Content-Type", "Expires")


class Refusal(ValueError):
    """A request refused before any handler sees it: the status and phrase of the answer, why (for
    its Warning), the headers the answer must carry, and the request when it can be answered."""

    status, phrase = 400, "Bad Request"

    def __init__(
        self, reason: str, *, answerable: Request | None = None, status: int = 0, phrase: str = "",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:  # fmt: skip
        super().__init__(reason)
        self.reason = reason
        self.answerable = answerable
        self.status, self.phrase = status or self.status, phrase or self.phrase
        self.headers = headers


class SipParseError(Refusal):
    """Malformed input. `answerable` is the request when one can still be answered with a 400
    (a 505 where only the version is wrong)."""


@functools.lru_cache(maxsize=1024)  # a few dozen names recur in every message
def canonical_name(name: str) -> str:
    lowered = name.lower()
    if lowered in COMPACT:
        return COMPACT[lowered]
    return _SPECIAL.get(lowered) or "-".join(part.capitalize() for part in lowered.split("-"))


# One list item: quoted strings (with escapes) and <...> kept whole, up to a comma outside both.
_ITEM = re.compile(r'(?:"(?:[^"\\]|\\.)*"?|<[^>]*>?|[^,"<])+')


def split_list(value: str) -> list[str]:
    """Split at commas outside quotes and angle brackets."""
    if "," not in value:
        return [value] if value else []
    plain = '"' not in value and "<" not in value
    items = value.split(",") if plain else _ITEM.findall(value)
    return [stripped for item in items if (stripped := item.strip())]


@dataclass
class Message:
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str, default: str | None = None) -> str | None:
        # A loop, not next() over a generator: half the cost, and every header read comes here
        # (13 % of a registration's CPU was this look-up).
        wanted = canonical_name(name)
        for header, value in self.headers:
            if header == wanted:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        wanted = canonical_name(name)
        return [v for n, v in self.headers if n == wanted]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def set(self, name: str, value: str) -> None:
        """Replace every value of `name` with one, kept at the first one's place."""
        wanted = canonical_name(name)
        index = next((i for i, (n, _) in enumerate(self.headers) if n == wanted), len(self.headers))
        self.headers = [(n, v) for n, v in self.headers if n != wanted]
        self.headers.insert(min(index, len(self.headers)), (wanted, value))

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        entry = (canonical_name(name), value)
        if first:
            self.headers.insert(0, entry)
        else:
            self.headers.append(entry)

    def remove(self, name: str) -> None:
        wanted = canonical_name(name)
        self.headers = [(n, v) for n, v in self.headers if n != wanted]

    def start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        lines = [self.start_line()]
        lines += [f"{n}: {v}" for n, v in self.headers if n != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    @property
    def call_id(self) -> str:
        return self["Call-ID"]

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = self["CSeq"].partition(" ")
        return int(number), method.strip()


@dataclass
class Request(Message):
    method: str = ""
    uri: str = ""

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"


@dataclass
class Response(Message):
    status: int = 0
    reason: str = ""
    # Made up by our own transaction layer (timeout, transport error), never received.
    local: bool = field(default=False, compare=False)

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"


def _header_lines(block: str) -> list[str]:
    """Unfold continuation lines (leading space or tab) into their header."""
    if not block:
        return []
    lines = block.split("\r\n")
    if "\r\n " not in block and "\r\n\t" not in block and block[0] not in " \t":
        return lines
    unfolded: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not unfolded:
                raise SipParseError("continuation line before any header")
            unfolded[-1] += " " + line.strip()
        else:
            unfolded.append(line)
    return unfolded


def _parse_headers(block: str, message: Message) -> list[str]:
    """Fill `message.headers`, all but Content-Length, whose values are returned; on a bad line,
    raise with the good lines kept, so that a 400 can still be routed back by the request's Via."""
    headers, lengths = message.headers, []
    for line in _header_lines(block):
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _TOKEN.fullmatch(name):
            raise SipParseError(f"malformed header line {line[:40]!r}")
        name, value = canonical_name(name), value.strip()
        if name == "Content-Length":
            lengths.append(value)
        elif name in LIST_HEADERS:
            headers += [(name, item) for item in split_list(value)]
        else:
            headers.append((name, value))
        if len(headers) + len(lengths) > MAX_HEADERS:
            raise SipParseError(f"more than {MAX_HEADERS} headers")
    return lengths


def _start(line: str) -> tuple[Request | Response, SipParseError | None]:
    """The message the start line begins, and what is wrong with a request line that can still be
    answered once the headers are read (extra spaces, RFC 4475 §3.1.2.9-10; another version, 505)."""
    if (status := _STATUS_LINE.fullmatch(line)) is not None:
        return Response(status=int(status[1]), reason=status[2].strip()), None
    if (request := _REQUEST_LINE.fullmatch(line)) is not None:
        return Request(method=request[1], uri=request[2]), None  # methods are case-sensitive (§7.1)
    if (loose := _LOOSE_REQUEST_LINE.fullmatch(line)) is not None:
        message = Request(method=loose[1], uri=loose[2])
        if loose[3] != "2.0":
            version = SipParseError(f"SIP/{loose[3]} is not supported", status=505, phrase="Version Not Supported")
            return message, version
        return message, SipParseError(f"malformed Request-Line {line[:60]!r}")
    raise SipParseError(f"not a SIP request or status line: {line[:60]!r}")


def parse(data: bytes, *, stream: bool = False) -> Request | Response:
    """Parse one whole message. On a datagram, Content-Length may be absent (the rest is body)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        raise SipParseError("no blank line after the headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("headers are not UTF-8") from None
    start_line, _, block = text.lstrip("\r\n").partition("\r\n")
    message, wrong = _start(start_line)
    try:
        message.body = _body(_parse_headers(block, message), body, stream=stream)
        if wrong is not None:
            raise wrong
    except SipParseError as error:
        error.answerable = message if isinstance(message, Request) else None
        raise
    return message


def _body(lengths: list[str], rest: bytes, *, stream: bool) -> bytes:
    if not lengths:
        if stream:
            raise SipParseError("Content-Length is required on stream transports")
        return rest
    if len(lengths) > 1:
        raise SipParseError("more than one Content-Length")
    if not lengths[0].isdigit():
        raise SipParseError("invalid Content-Length")
    length = int(lengths[0])
    if length > len(rest):
        raise SipParseError(f"Content-Length {length} exceeds the {len(rest)} body bytes received")
    return rest[:length]


def check_request(request: Request) -> None:
    """The headers RFC 3261 §8.1.1 requires, each well formed and once, and a Request-URI of the
    SIP grammar; raises SipParseError for a 400 (the answers RFC 4475 §3.1.2 and §3.3 expect)."""
    for name in ("To", "From", "Call-ID", "CSeq", "Via"):
        if name not in request:
            raise SipParseError(f"missing {name} header", answerable=request)
    for name in SINGLE_HEADERS:
        if len(request.get_all(name)) > 1:
            raise SipParseError(f"more than one {name} header", answerable=request)
    number, _, method = request["CSeq"].partition(" ")
    if not number.isdigit() or int(number) >= 2**31 or method.strip() != request.method:
        raise SipParseError("CSeq does not match the request", answerable=request)
    forwards = request.get("Max-Forwards", "70") or ""
    if not forwards.isdigit() or int(forwards) > 255:
        raise SipParseError("invalid Max-Forwards", answerable=request)
    if not _CALL_ID.fullmatch(request.call_id):
        raise SipParseError("malformed Call-ID", answerable=request)
    try:
        _check_request_uri(request.uri)
        _check_addresses(request)
    except SipParseError as error:
        error.answerable = request
        raise


def _check_request_uri(uri: str) -> None:
    scheme, colon, _ = uri.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        raise SipParseError(f"malformed Request-URI {uri[:60]!r}")
    if scheme.lower() not in ("sip", "sips"):
        return  # whether the scheme is served is the user agent's to say (416)
    from sip.uri import InvalidUri, SipUri, parse_uri

    try:
        parsed = parse_uri(uri)
    except InvalidUri as error:
        raise SipParseError(str(error)) from None
    if isinstance(parsed, SipUri) and parsed.headers is not None:
        raise SipParseError("a Request-URI carries no headers (RFC 3261 §19.1.5)")


def _check_addresses(request: Request) -> None:
    """Every Via, To, From and Contact parses (sip.headers); a request is refused for any one."""
    from sip.headers import MAGIC_COOKIE, NameAddr, Via

    for value in request.get_all("Via"):
        if Via.parse(value).branch == MAGIC_COOKIE:  # RFC 4475 §3.2.1: a cookie with no identifier
            raise SipParseError("the Via branch is the magic cookie alone")
    for name in ("To", "From"):
        NameAddr.parse(request[name])
    for value in request.get_all("Contact"):
        if value.strip() != "*":
            NameAddr.parse(value)


def check_response(response: Response) -> None:
    """What a response needs to be matched to its transaction; else it is dropped (RFC 4475 §3.1.2.5)."""
    number, _, method = (response.get("CSeq") or "").partition(" ")
    if not response.get("Via") or not number.isdigit() or int(number) >= 2**31 or not method.strip():
        raise SipParseError("a response without a Via or a valid CSeq")


class StreamParser:
    """Frames messages out of a TCP, TLS or WebSocket byte stream by Content-Length."""

    def __init__(self, max_body: int = MAX_MESSAGE_BYTES) -> None:
        self.buffer = bytearray()
        self.max_body = max_body

    def feed(self, data: bytes) -> Iterator[Request | Response | bytes]:
        """Yields messages, and b"\\r\\n" for each keep-alive ping (RFC 5626 double CRLF)."""
        self.buffer += data
        while True:
            if self.buffer.startswith(b"\r\n\r\n"):
                del self.buffer[:4]
                yield b"\r\n"
                continue
            while self.buffer.startswith(b"\r\n") and len(self.buffer) >= 4:
                del self.buffer[:2]
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    raise SipParseError("header block too large")
                return
            length = _content_length(bytes(self.buffer[:end]))
            if length > self.max_body:
                raise SipParseError(f"body of {length} bytes is over the limit")
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            chunk = bytes(self.buffer[:total])
            del self.buffer[:total]
            yield parse(chunk, stream=True)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            text = value.strip()
            if not text.isdigit():
                raise SipParseError("invalid Content-Length")
            return int(text)
    raise SipParseError("Content-Length is required on stream transports")
