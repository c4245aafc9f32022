"""Values of structured headers: name-addr (From, To, Contact, Route), Via, and auth parameters."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from sip.message import SipParseError

_PARAM = re.compile(r'\s*;\s*([^;=\s]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*))?')
_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"  # noqa: S105 (the characters of a token, §25.1)
_VIA = re.compile(rf"SIP\s*/\s*2\.0\s*/\s*([{_TOKEN_CHARS}]+)\s+([^;\s]+)(.*)", re.DOTALL)
# An unquoted display name is tokens separated by LWS (RFC 3261 §25.1); a quoted one may hold anything.
_DISPLAY_TOKENS = re.compile(rf"[{_TOKEN_CHARS}]+(?:[ \t]+[{_TOKEN_CHARS}]+)*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_NOT_IN_URI = re.compile(r'[\s<"]')
_AUTH_PARAM = re.compile(r'\s*([A-Za-z0-9\-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')
MAGIC_COOKIE = "z9hG4bK"


def parse_params(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    position = 0
    while position < len(text):
        match = _PARAM.match(text, position)
        if match is None:
            raise SipParseError(f"malformed parameters {text[position : position + 40]!r}")
        params[match[1].lower()] = match[2]
        position = match.end()
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass
class NameAddr:
    uri: str
    display: str = ""
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        """name-addr or addr-spec (§20.10); SipParseError for what neither grammar allows: an open
        quote, an unquoted display name of other than tokens, spaces inside <...>, or a URI with a
        '?' or ',' not in <...> (RFC 4475 §3.1.2.6, .13, .14, .15)."""
        text = text.strip()
        if text.startswith('"'):
            quoted = _QUOTED.match(text)
            if quoted is None:
                raise SipParseError(f"unterminated quoted display name in {text[:60]!r}")
            rest = text[quoted.end() :].lstrip()
            if not rest.startswith("<"):
                raise SipParseError(f"no <uri> after the display name in {text[:60]!r}")
            return cls._bracketed(_ESCAPE.sub(r"\1", quoted[1]), rest, text)
        if "<" in text:
            display, _, rest = text.partition("<")
            display = display.strip()
            if display and not _DISPLAY_TOKENS.fullmatch(display):
                raise SipParseError(f"a display name of other than tokens is quoted: {text[:60]!r}")
            return cls._bracketed(display, "<" + rest, text)
        uri, _, params = text.partition(";")  # addr-spec: parameters belong to the header
        uri = uri.rstrip()
        if ":" not in uri or any(c in uri for c in ' \t?,"<>'):
            raise SipParseError(f"malformed address {text[:60]!r}")
        return cls(uri, "", parse_params(";" + params) if params else {})

    @classmethod
    def _bracketed(cls, display: str, rest: str, text: str) -> NameAddr:
        uri, closing, params = rest[1:].partition(">")
        if not closing or ":" not in uri or _NOT_IN_URI.search(uri):
            raise SipParseError(f"malformed <uri> in {text[:60]!r}")
        return cls(uri, display, parse_params(params))

    def __str__(self) -> str:
        quoted = self.display.replace("\\", "\\\\").replace('"', '\\"')
        display = f'"{quoted}" ' if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")


@dataclass
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        match = _VIA.fullmatch(text.strip())
        if match is None:
            raise SipParseError(f"malformed Via {text[:60]!r}")
        sent_by = match[2]
        host, port = sent_by, None
        if sent_by.startswith("["):
            host, _, rest = sent_by.partition("]")
            host += "]"
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif ":" in sent_by:
            host, _, port_text = sent_by.rpartition(":")
            if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
                raise SipParseError(f"malformed Via port in {text[:60]!r}")
            port = int(port_text)
        if not host.strip("[]"):
            raise SipParseError(f"Via without a host in {text[:60]!r}")
        return cls(match[1].upper(), host, port, parse_params(match[3]))

    def __str__(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")


def new_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


def parse_challenge(text: str) -> tuple[str, dict[str, str]]:
    """`Digest realm="x", nonce="y", qop="auth"` -> ("Digest", {...}); quotes and escapes removed."""
    scheme, _, rest = text.strip().partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _AUTH_PARAM.match(rest, position)
        if match is None or match.end() == position:
            raise SipParseError(f"malformed {scheme} challenge")
        value = match[2]
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[match[1].lower()] = value
        position = match.end()
    return scheme, params
