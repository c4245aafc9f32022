"""rtpengine (Debian `rtpengine-daemon`) run in the foreground on loopback, in userspace
(`--table=-1`, no kernel module): the demo's own media gateway (manage.py serve) and the tests'.

It gets a media port range of its own, below Linux's ephemeral ports (32768-60999), where the
browsers' own candidates never fall, and its own pid file.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from portal.daemons import Daemon

DEMO_MEDIA_PORTS = (30000, 30999)


@dataclass
class RtpEngineProcess(Daemon):
    name = "rtpengine"
    workdir: Path
    ng_port: int
    media_ports: tuple[int, int]
    delete_delay: int = 30  # rtpengine's default: a deleted call's ports linger for late packets
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.ng_port

    def argv(self, binary: str) -> list[str]:
        low, high = self.media_ports
        return [
            binary, "--config-file=none", "--interface=127.0.0.1", f"--listen-ng=127.0.0.1:{self.ng_port}",
            "--foreground", "--log-stderr", "--log-level=6", "--table=-1", f"--port-min={low}", f"--port-max={high}",
            f"--pidfile={self.workdir / 'rtpengine.pid'}", f"--delete-delay={self.delete_delay}",
        ]  # fmt: skip

    def start(self, binary: str, timeout: float = 15.0) -> RtpEngineProcess:
        """Start rtpengine and return once it answers `ping` on its NG port."""
        self.launch(binary, timeout)
        return self

    def answers(self, timeout: float) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(b"ready d7:command4:pinge", self.address)
            try:
                return b"pong" in sock.recv(1024)
            except OSError:
                return False
