"""coturn for a test: turnserver in the foreground on free loopback ports (portal.coturn), and a
TURN client just big enough to ask it for a relay with a given credential: an Allocate answered
by a challenge, then sent again with the long-term credential (RFC 5766 §6, RFC 5389 §10.2)."""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from portal.coturn import Coturn
from tests.support.services import free_port, require_binary

MAGIC_COOKIE = 0x2112A442
ALLOCATE, ALLOCATE_SUCCESS, ALLOCATE_ERROR = 0x0003, 0x0103, 0x0113
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, REALM, NONCE = 0x0006, 0x0008, 0x0009, 0x0014, 0x0015
REQUESTED_TRANSPORT_UDP = struct.pack("!HHB3x", 0x0019, 4, 17)


@contextmanager
def coturn(workdir: Path) -> Iterator[Coturn]:
    """A coturn of the test's own, with a relay port range of its own below the ephemeral ports
    (where Chromium binds its candidates), picked at random so that parallel tests rarely meet."""
    binary = require_binary("turnserver")
    low = random.randrange(20000, 28000, 100)
    relay = Coturn(workdir / "coturn", free_port(), (low, low + 99), verbose=True).start(binary)
    try:
        yield relay
    finally:
        relay.stop()


def restart(relay: Coturn) -> Coturn:
    """The same relay back after an outage: its port, relay ports and secret, but none of its
    allocations (a client must allocate again, as after a real restart)."""
    relay.stop()
    return relay.start(require_binary("turnserver"))


def allocate(port: int, username: str, password: str, timeout: float = 3.0) -> int:
    """Ask the TURN server on loopback `port` for a UDP relay: 200 when it allocates one, else the
    error code it answers (401 for a credential it refuses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        kind, attributes = _exchange(sock, REQUESTED_TRANSPORT_UDP, None)
        if kind != ALLOCATE_ERROR or REALM not in attributes or NONCE not in attributes:
            raise AssertionError(f"expected a 401 challenge with realm and nonce, got {kind:#06x} {attributes}")
        realm = attributes[REALM]
        body = REQUESTED_TRANSPORT_UDP + _attribute(USERNAME, username.encode())
        body += _attribute(REALM, realm) + _attribute(NONCE, attributes[NONCE])
        key = hashlib.md5(b":".join([username.encode(), realm, password.encode()])).digest()  # noqa: S324 (RFC 5389)
        kind, attributes = _exchange(sock, body, key)
        return 200 if kind == ALLOCATE_SUCCESS else _error_code(attributes[ERROR_CODE])


def _exchange(sock: socket.socket, body: bytes, key: bytes | None) -> tuple[int, dict[int, bytes]]:
    transaction = os.urandom(12)
    integrity_length = 24 if key is not None else 0
    head = struct.pack("!HHI", ALLOCATE, len(body) + integrity_length, MAGIC_COOKIE) + transaction
    message = head + body
    if key is not None:
        message += _attribute(MESSAGE_INTEGRITY, hmac.new(key, message, hashlib.sha1).digest())
    sock.send(message)
    while True:
        answer = sock.recv(4096)
        if answer[8:20] == transaction:
            return _parse(answer)


def _attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def _parse(message: bytes) -> tuple[int, dict[int, bytes]]:
    kind, length = struct.unpack_from("!HH", message)
    attributes: dict[int, bytes] = {}
    offset = 20
    while offset < 20 + length:
        attribute, size = struct.unpack_from("!HH", message, offset)
        attributes.setdefault(attribute, message[offset + 4 : offset + 4 + size])
        offset += 4 + size + (-size % 4)
    return kind, attributes


def _error_code(value: bytes) -> int:
    return (value[2] & 0x07) * 100 + value[3]
