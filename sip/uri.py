"""SIP and tel URIs (RFC 3261 §19.1 and §25.1, RFC 3966): strict parsing and comparison forms.

Only what the portal needs to hold IMS public user identities and route requests: the grammar is
checked in full, and a URI that does not match raises InvalidUri with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ALNUM = r"A-Za-z0-9"
_MARK = r"\-_.!~*'()"
_ESCAPED = r"%[0-9A-Fa-f]{2}"
_USER = rf"(?:[{_ALNUM}{_MARK}&=+$,;?/]|{_ESCAPED})+"
_PASSWORD = rf"(?:[{_ALNUM}{_MARK}&=+$,]|{_ESCAPED})*"
_DOMAINLABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_TOPLABEL = r"[A-Za-z](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_HOSTNAME = rf"(?:{_DOMAINLABEL}\.)*{_TOPLABEL}\.?"
_IPV4 = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"
_IPV6REF = r"\[[0-9A-Fa-f:.]+\]"
_PARAMCHAR = rf"(?:[{_ALNUM}{_MARK}\[\]/:&+$]|{_ESCAPED})"
_HEADERCHAR = rf"(?:[{_ALNUM}{_MARK}\[\]/?:+$]|{_ESCAPED})"

_SIP_RE = re.compile(
    rf"(?P<scheme>sips?):"
    rf"(?:(?P<user>{_USER})(?::(?P<password>{_PASSWORD}))?@)?"
    rf"(?P<host>{_HOSTNAME}|{_IPV4}|{_IPV6REF})"
    rf"(?::(?P<port>\d{{1,5}}))?"
    rf"(?P<params>(?:;{_PARAMCHAR}+(?:={_PARAMCHAR}+)?)*)"
    rf"(?:\?(?P<headers>{_HEADERCHAR}*=?{_HEADERCHAR}*(?:&{_HEADERCHAR}+={_HEADERCHAR}*)*))?",
    re.IGNORECASE,
)
_TEL_RE = re.compile(
    r"tel:(?P<number>\+[0-9\-.()]*[0-9][0-9\-.()]*)(?P<params>(?:;[A-Za-z0-9\-]+(?:=[^;]+)?)*)", re.IGNORECASE
)
_VISUAL_SEPARATORS = str.maketrans("", "", "-.()")


class InvalidUri(ValueError):
    """Raised with a message a person can act on."""


@dataclass(frozen=True)
class SipUri:
    scheme: str
    user: str | None
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict, compare=False, hash=False)
    headers: str | None = field(default=None, compare=False, hash=False)  # after '?', as written

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user is not None else ""
        port = f":{self.port}" if self.port is not None else ""
        params = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"{self.scheme}:{user}{self.host}{port}{params}"

    @property
    def address_of_record(self) -> str:
        """The form used to compare identities: scheme and host lower-case, no port or parameters."""
        user = f"{self.user}@" if self.user is not None else ""
        return f"{self.scheme}:{user}{self.host}"


@dataclass(frozen=True)
class TelUri:
    number: str  # "+" and digits only, visual separators removed

    def __str__(self) -> str:
        return f"tel:{self.number}"

    @property
    def address_of_record(self) -> str:
        return str(self)

    @property
    def host(self) -> None:
        return None


def _params(raw: str) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for item in filter(None, raw.split(";")):
        name, _, value = item.partition("=")
        result[name.lower()] = value if "=" in item else None
    return result


def parse_uri(text: str) -> SipUri | TelUri:
    if len(text) > 2048:
        raise InvalidUri("URI is longer than 2048 characters")
    if text[:4].lower() == "tel:":
        return _parse_tel(text)
    match = _SIP_RE.fullmatch(text)
    if match is None:
        raise InvalidUri(f"{text!r} is not a valid SIP or tel URI")
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port <= 65535:
        raise InvalidUri(f"{text!r}: port {port} is out of range")
    host = match["host"].lower().rstrip(".")
    if re.fullmatch(_IPV4, host) and any(int(octet) > 255 for octet in host.split(".")):
        raise InvalidUri(f"{text!r}: {host} is not an IPv4 address")
    return SipUri(match["scheme"].lower(), match["user"], host, port, _params(match["params"]), match["headers"])


def _parse_tel(text: str) -> TelUri:
    match = _TEL_RE.fullmatch(text)
    if match is None:
        raise InvalidUri(f"{text!r} is not a global tel URI (tel:+ and digits)")
    number = match["number"].translate(_VISUAL_SEPARATORS)
    if not 2 <= len(number) <= 16:
        raise InvalidUri(f"{text!r}: an E.164 number has 1 to 15 digits")
    return TelUri(number)


def parse_impu(text: str) -> SipUri | TelUri:
    """An IMS public user identity: a SIP URI with a user part and nothing else, or a global tel URI."""
    uri = parse_uri(text.strip())
    if isinstance(uri, SipUri):
        if not uri.user:
            raise InvalidUri(f"{text!r}: a SIP public identity needs a user part (user@domain)")
        if "?" in text or uri.port is not None or ":" in uri.user:
            raise InvalidUri(f"{text!r}: a public identity carries no port, password or headers")
    return uri


def is_in_domain(host: str, domain: str) -> bool:
    host, domain = host.lower().rstrip("."), domain.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)
