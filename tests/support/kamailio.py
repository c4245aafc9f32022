"""Kamailio (Debian package) as the IMS core of a test, on free loopback ports."""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.services import free_port, require_binary

CONFIG = Path(__file__).resolve().parents[1] / "kamailio" / "kamailio.cfg"
PASSWORD = "block-secret"  # BLOCK_PASSWORD in the configuration
DOMAIN = "ims.test"


class Kamailio:
    def __init__(self, workdir: Path, *, sha256: bool = False, defines: tuple[str, ...] = ()) -> None:
        self.binary = require_binary("kamailio")
        self.workdir = workdir
        self.sha256 = sha256
        self.defines = defines  # switches of kamailio.cfg, e.g. CHALLENGE_ALL
        self.udp, self.tcp, self.ws = free_port(), free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Kamailio:
        modules = sorted(glob.glob("/usr/lib/*/kamailio/modules")) or ["/usr/lib/kamailio/modules"]
        # 256 MB of shared memory: finished transactions wait out their timers there, and a
        # benchmark leaves thousands at once (64 MB, the default, ran out).
        argv = [self.binary, "-f", str(CONFIG), "-L", modules[0], "-m", "256", "-DD", "-E", "-w", str(self.workdir)]
        argv += ["-Y", str(self.workdir), "-A", f"UDP_PORT={self.udp}", "-A", f"TCP_PORT={self.tcp}"]
        argv += ["-A", f"WS_PORT={self.ws}"] + (["-A", "AUTH_SHA256"] if self.sha256 else [])
        argv += [word for define in self.defines for word in ("-A", define)]
        log = (self.workdir / "kamailio.log").open("ab")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 15.0) -> None:
        """Kamailio answers anything once its workers run; an OPTIONS proves it."""
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(0.3)
            probe = (
                f"OPTIONS sip:probe@{DOMAIN} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{sock.getsockname()[1]};branch=z9hG4bKprobe\r\n"
                f"From: <sip:probe@{DOMAIN}>;tag=p\r\nTo: <sip:probe@{DOMAIN}>\r\nCall-ID: probe\r\n"
                "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            ).encode()
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"kamailio exited: {self.log_tail()}")
                sock.sendto(probe, ("127.0.0.1", self.udp))
                try:
                    sock.recvfrom(4096)
                    return
                except OSError:
                    continue
        raise TimeoutError(f"kamailio did not answer on UDP {self.udp}: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "kamailio.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def restart(core: Kamailio, downtime: float) -> None:
    """Stop the core, keep it down for `downtime` seconds, start it again on the same ports."""
    core.stop()
    time.sleep(downtime)
    core.start()
