"""A helper program of the portal (rtpengine, coturn) run in the foreground on loopback: started
by the demo's `manage.py serve` and by the tests, each with its own work directory and log."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Daemon:
    """What a subclass gives: `name`, `workdir`, `argv(binary)`, and `answers(timeout)`, a probe
    that tells when the program serves."""

    name = "daemon"
    workdir: Path
    process: subprocess.Popen[bytes] | None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def argv(self, binary: str) -> list[str]:
        raise NotImplementedError

    def answers(self, timeout: float) -> bool:
        raise NotImplementedError

    def launch(self, binary: str, timeout: float) -> None:
        """Start the program and return once its probe answers; stopped again if it never does."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.argv(binary), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            if self.answers(0.2):
                return
            time.sleep(0.05)  # refused at once while it starts: no busy loop
        self.stop()
        raise TimeoutError(f"{self.name} did not answer: {self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
