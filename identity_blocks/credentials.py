"""Digest credentials: kept as H(username:realm:password) (RFC 7616, RFC 8760) wherever one user name
is known in advance; sealed (encrypted) where one password serves every identity of a block under
its own user name, since each of those hashes needs the password itself."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from sip.uri import SipUri, parse_uri

USERNAME_FIELDS = ("user", "host", "impu")
CSV_COLUMNS = ("impu", "username", "password")


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


def _fernet() -> Fernet:
    key = settings.CREDENTIALS_KEY
    if not key:  # derived, so the demo and a deployment without its own key still seal
        key = base64.urlsafe_b64encode(hashlib.sha256(b"credentials:" + settings.SECRET_KEY.encode()).digest()).decode()
    return Fernet(key)


def seal(password: str) -> str:
    if not password:
        raise ValueError("a shared Digest credential needs a password")
    return _fernet().encrypt(password.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise ValueError("the block's password was sealed with another key; enter it again") from None


def username_for(template: str, impu: str) -> str:
    """An identity's own user name: '{user}' is sip:help-0001@ims.example.net's 'help-0001' (a tel
    URI's number), '{host}' its domain, '{impu}' the whole URI."""
    uri = parse_uri(impu)
    user, host = (uri.user or "", uri.host) if isinstance(uri, SipUri) else (uri.number, "")
    return (template or "{user}").format(user=user, host=host, impu=impu)


def check_username_template(template: str) -> None:
    """Raises ValueError naming what is wrong with a template of user names."""
    try:
        template.format(**dict.fromkeys(USERNAME_FIELDS, "x"))
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(f"a user name template may use {{user}}, {{host}} and {{impu}} only ({error})") from None


@dataclass(frozen=True)
class CredentialRow:
    line: int
    impu: str
    username: str
    password: str


class CredentialsRejected(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_csv(text: str) -> list[CredentialRow]:
    """Rows of 'impu,username,password' under that header line, as an operator hands them over."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        return _rows(reader)
    except csv.Error as error:
        raise CredentialsRejected([f"line {reader.line_num}: {error}"]) from None


def _rows(reader: Any) -> list[CredentialRow]:
    header = [name.strip().lower() for name in next(reader, [])]
    if tuple(header) != CSV_COLUMNS:
        raise CredentialsRejected([f"line 1: the header must be {','.join(CSV_COLUMNS)}"])
    rows, errors = [], []
    for fields in reader:
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(CSV_COLUMNS):
            errors.append(f"line {line}: {len(fields)} fields, {len(CSV_COLUMNS)} expected")
            continue
        impu, username, password = (field.strip() for field in fields)
        rows.append(CredentialRow(line, impu, username, password))
    if errors:
        raise CredentialsRejected(errors)
    return rows
