"""Digest authentication for a UAC (RFC 7616 as used by SIP, RFC 8760): MD5 and SHA-256, with and
without -sess, qop=auth. It works from H(username:realm:password), never the password."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from sip.headers import parse_challenge

_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data).hexdigest(),  # noqa: S324 (the protocol's, not ours)
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}


class AuthError(Exception):
    """A challenge we cannot answer: unknown scheme or algorithm, no credentials for the realm."""


@dataclass(frozen=True)
class DigestCredentials:
    username: str
    realm: str
    ha1: dict[str, str]  # base algorithm ("MD5", "SHA-256") -> H(username:realm:password)

    @classmethod
    def from_password(cls, username: str, realm: str, password: str) -> DigestCredentials:
        a1 = f"{username}:{realm}:{password}".encode()
        return cls(username, realm, {name: digest(a1) for name, digest in _HASHES.items()})


@dataclass
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: list[str] = field(default_factory=list)
    opaque: str | None = None
    stale: bool = False

    @property
    def base_algorithm(self) -> str:
        return self.algorithm.upper().removesuffix("-SESS")

    @classmethod
    def parse(cls, header: str) -> Challenge:
        scheme, params = parse_challenge(header)
        if scheme.lower() != "digest" or "nonce" not in params:
            raise AuthError(f"unsupported challenge {scheme}")
        return cls(
            realm=params.get("realm", ""),
            nonce=params["nonce"],
            algorithm=params.get("algorithm", "MD5").upper(),
            qop=[q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()],
            opaque=params.get("opaque"),
            stale=params.get("stale", "").lower() == "true",
        )


def choose(headers: list[str]) -> Challenge:
    """The topmost challenge whose algorithm we support (RFC 8760 §2.4)."""
    for header in headers:
        try:
            challenge = Challenge.parse(header)
        except AuthError:
            continue
        if challenge.base_algorithm in _HASHES:
            return challenge
    raise AuthError("no supported Digest challenge (MD5 or SHA-256)")


def authorization(
    challenge: Challenge, credentials: DigestCredentials, method: str, uri: str, *, nc: int = 1, cnonce: str = ""
) -> str:
    """The Authorization (or Proxy-Authorization) header value answering `challenge`."""
    hash_ = _HASHES[challenge.base_algorithm]
    if challenge.base_algorithm not in credentials.ha1:
        raise AuthError(f"no {challenge.base_algorithm} credentials for realm {challenge.realm}")
    cnonce = cnonce or secrets.token_hex(16)
    ha1 = credentials.ha1[challenge.base_algorithm]
    if challenge.algorithm.endswith("-SESS"):
        ha1 = hash_(f"{ha1}:{challenge.nonce}:{cnonce}".encode())
    ha2 = hash_(f"{method}:{uri}".encode())
    fields = [
        f'username="{credentials.username}"',
        f'realm="{challenge.realm}"',
        f'nonce="{challenge.nonce}"',
        f'uri="{uri}"',
    ]
    if "auth" in challenge.qop:
        count = f"{nc:08x}"
        response = hash_(f"{ha1}:{challenge.nonce}:{count}:{cnonce}:auth:{ha2}".encode())
        fields += [
            f'response="{response}"',
            f"algorithm={challenge.algorithm}",
            f'cnonce="{cnonce}"',
            "qop=auth",
            f"nc={count}",
        ]
    elif challenge.qop:
        raise AuthError(f"unsupported qop {','.join(challenge.qop)}")
    else:
        fields += [f'response="{hash_(f"{ha1}:{challenge.nonce}:{ha2}".encode())}"', f"algorithm={challenge.algorithm}"]
    if challenge.opaque is not None:
        fields.append(f'opaque="{challenge.opaque}"')
    return "Digest " + ", ".join(fields)


@dataclass(frozen=True)
class Answer:
    """The parameters of an Authorization header, as a registrar reads them."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None

    @classmethod
    def parse(cls, header: str) -> Answer:
        scheme, params = parse_challenge(header)
        if scheme.lower() != "digest":
            raise AuthError(f"not a Digest answer: {scheme}")
        try:
            return cls(
                params["username"], params.get("realm", ""), params["nonce"], params["uri"], params["response"],
                params.get("algorithm", "MD5").upper(), params.get("qop"), params.get("nc"), params.get("cnonce"),
            )  # fmt: skip
        except KeyError as missing:
            raise AuthError(f"Digest answer without {missing}") from None


def expected_response(answer: Answer, ha1: str, method: str) -> str:
    """What a correct answer's `response` is, given the stored H(username:realm:password)."""
    base = answer.algorithm.removesuffix("-SESS")
    if base not in _HASHES:
        raise AuthError(f"unsupported algorithm {answer.algorithm}")
    hash_ = _HASHES[base]
    if answer.algorithm.endswith("-SESS"):
        ha1 = hash_(f"{ha1}:{answer.nonce}:{answer.cnonce}".encode())
    ha2 = hash_(f"{method}:{answer.uri}".encode())
    if answer.qop == "auth":
        return hash_(f"{ha1}:{answer.nonce}:{answer.nc}:{answer.cnonce}:auth:{ha2}".encode())
    return hash_(f"{ha1}:{answer.nonce}:{ha2}".encode())
