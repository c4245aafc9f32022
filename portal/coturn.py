"""coturn (Debian `coturn`, binary `turnserver`) run in the foreground on loopback, checking
time-limited credentials against a shared secret (`use-auth-secret`): the demo's own TURN relay
(manage.py serve) and the tests' (tests/support/coturn.py).

coturn is given its own relay port range, away from the ephemeral ports the browsers bind for
their own candidates, and its own pid file (by default it leaves /var/run/turnserver.pid behind).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from portal.daemons import Daemon

REALM = "portal.local"
DEMO_RELAY_PORTS = (29000, 29499)  # below Linux's ephemeral range (32768-60999)
BINDING_REQUEST = b"\x00\x01\x00\x00\x21\x12\xa4\x42"  # STUN Binding, no attributes, magic cookie


@dataclass
class Coturn(Daemon):
    name = "coturn"
    workdir: Path
    port: int
    relay_ports: tuple[int, int]
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    realm: str = REALM
    verbose: bool = False  # every request and its outcome in the log (the tests read it)
    process: subprocess.Popen[bytes] | None = None

    @property
    def urls(self) -> list[str]:
        return [f"turn:127.0.0.1:{self.port}?transport=udp"]

    def argv(self, binary: str) -> list[str]:
        low, high = self.relay_ports
        return [
            binary, "-n", "--listening-ip=127.0.0.1", f"--listening-port={self.port}", "--relay-ip=127.0.0.1",
            f"--min-port={low}", f"--max-port={high}", "--use-auth-secret", f"--static-auth-secret={self.secret}",
            f"--realm={self.realm}", "--no-tls", "--no-dtls", "--no-cli", "--simple-log", "--log-file=stdout",
            "--allow-loopback-peers", f"--pidfile={self.workdir / 'turnserver.pid'}",
            f"--userdb={self.workdir / 'turndb'}", *(["--verbose"] if self.verbose else []),
        ]  # fmt: skip

    def start(self, binary: str, timeout: float = 10.0) -> Coturn:
        """Start turnserver and return once it answers a STUN Binding request."""
        self.launch(binary, timeout)
        return self

    def answers(self, timeout: float) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(BINDING_REQUEST + os.urandom(12), ("127.0.0.1", self.port))
            try:
                return sock.recv(2048)[:2] == b"\x01\x01"  # Binding success response
            except OSError:
                return False
