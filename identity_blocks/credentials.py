"""Digest credentials kept as H(username:realm:password) (RFC 7616, RFC 8760), never in clear."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class DigestSecret:
    username: str
    realm: str
    ha1_md5: str
    ha1_sha256: str


def digest_secret(username: str, realm: str, password: str) -> DigestSecret:
    if not username or not password:
        raise ValueError("Digest credentials need a user name and a password")
    a1 = f"{username}:{realm}:{password}".encode()
    return DigestSecret(username, realm, hashlib.md5(a1).hexdigest(), hashlib.sha256(a1).hexdigest())  # noqa: S324
