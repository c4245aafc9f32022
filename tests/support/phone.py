"""A G.711 phone for media tests, and the media gateway (rtpengine) it talks through.

The phone is sipp: its signalling from a scenario in tests/sipp/, its tone an RTP capture (a pcap
of PCMU packets made here) that sipp plays from its media port. What the phone receives is
captured off the loopback interface (a packet socket, as tcpdump would) and decoded here.
"""

from __future__ import annotations

import random
import socket
import struct
import subprocess
import threading
from pathlib import Path

import numpy as np

from ims.gateway import RtpEngineProcess
from tests.support.services import require_binary

SCENARIOS = Path(__file__).resolve().parents[1] / "sipp"
PCMU_RATE = 8000
PACKET_SAMPLES = 160  # 20 ms


# G.711 µ-law ----------------------------------------------------------------------------------


def ulaw_encode(samples: np.ndarray) -> bytes:
    """16-bit linear to µ-law (ITU-T G.711)."""
    linear = samples.astype(np.int32)
    sign = np.where(linear < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(linear), 32635) + 0x84
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return bytes((~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8))


def ulaw_decode(data: bytes) -> np.ndarray:
    """µ-law to 16-bit linear (ITU-T G.711)."""
    code = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(code & 0x80, -magnitude, magnitude)


def dominant_hz(samples: np.ndarray, rate: int = PCMU_RATE) -> float:
    """The frequency with the most energy (a Hann window against leakage)."""
    window = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(window))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * rate / len(samples))


# The phone's tone ---------------------------------------------------------------------------


def tone_pcap(path: Path, hz: float, seconds: float) -> Path:
    """A pcap of PCMU RTP packets carrying a sine at `hz`, 20 ms apart (sipp's play_pcap_audio
    rewrites the addresses and ports as it sends them)."""
    n = np.arange(int(PCMU_RATE * seconds))
    payload = ulaw_encode(12_000 * np.sin(2 * np.pi * hz * n / PCMU_RATE))
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # Ethernet link type
    for index, start in enumerate(range(0, len(payload) - PACKET_SAMPLES + 1, PACKET_SAMPLES)):
        rtp = struct.pack("!BBHII", 0x80, 0, index & 0xFFFF, start, 0x5EED) + payload[start : start + PACKET_SAMPLES]
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index, 0, 64, 17, 0, b"\x7f\0\0\1", b"\x7f\0\0\1")
        frame = b"\0" * 12 + b"\x08\x00" + ip + udp
        stamp = index * 0.02
        records.append(struct.pack("<IIII", int(stamp), int(stamp % 1 * 1e6), len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(records))
    return path


# What the phone hears -----------------------------------------------------------------------


class UdpCapture(threading.Thread):
    """Datagrams arriving at a UDP port on loopback, read off the interface (root, as tcpdump)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.datagrams: list[bytes] = []
        self.stopping = threading.Event()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.2)

    def run(self) -> None:
        while not self.stopping.is_set():
            self._read()
        self.sock.setblocking(False)  # what arrived before the stop is still to be read
        while self._read():
            pass
        self.sock.close()

    def _read(self) -> bool:
        try:
            frame, address = self.sock.recvfrom(65535)
        except (TimeoutError, BlockingIOError):
            return False
        if address[2] != socket.PACKET_OUTGOING:  # loopback shows each packet leaving and arriving
            self._keep(frame)
        return True

    def _keep(self, frame: bytes) -> None:
        if frame[12:14] != b"\x08\x00" or frame[23] != 17:
            return
        udp = 14 + (frame[14] & 0x0F) * 4
        if struct.unpack("!H", frame[udp + 2 : udp + 4])[0] != self.port:
            return
        self.datagrams.append(frame[udp + 8 :])

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


class RtpCapture(UdpCapture):
    """What a phone receives on its media port."""

    def pcmu(self) -> np.ndarray:
        """The PCMU received, in sequence order, decoded."""
        packets = {}  # by sequence number: a packet seen twice counts once
        for rtp in list(self.datagrams):
            if len(rtp) > 12 and rtp[0] >> 6 == 2 and rtp[1] & 0x7F == 0:
                packets[struct.unpack("!H", rtp[2:4])[0]] = rtp[12 + 4 * (rtp[0] & 0x0F) :]
        return ulaw_decode(b"".join(payload for _, payload in sorted(packets.items())))


# The phone ------------------------------------------------------------------------------------


def phone(
    scenario: str, *, core_port: int, sip_port: int, media_port: int, fields: list[str], workdir: Path,
    pcap: Path, talk_ms: int, service: str = "x", auth: tuple[str, str] | None = None,
) -> subprocess.Popen[bytes]:  # fmt: skip
    """sipp running `scenario` once, its RTP on `media_port` (raw sockets for the tone: root)."""
    text = (SCENARIOS / f"{scenario}.xml").read_text().replace("@PCAP@", str(pcap)).replace("@TALK_MS@", str(talk_ms))
    path = workdir / f"{scenario}-{sip_port}.xml"
    path.write_text(text)
    values = workdir / f"{scenario}-{sip_port}.csv"
    values.write_text("SEQUENTIAL\n" + ";".join(fields) + ";\n")
    argv = [require_binary("sipp"), f"127.0.0.1:{core_port}", "-sf", str(path), "-inf", str(values), "-m", "1"]
    argv += ["-p", str(sip_port), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", str(media_port), "-s", service]
    argv += ["-nostdin", "-timeout", "60s", "-timeout_error", "-trace_err", "-error_file", str(path) + ".err"]
    argv += ["-trace_msg", "-message_file", str(path) + ".msg"]
    if auth:
        argv += ["-au", auth[0], "-ap", auth[1]]
    log = (workdir / f"{scenario}-{sip_port}.log").open("wb")
    return subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)


def finished(process: subprocess.Popen[bytes], workdir: Path, timeout: float = 60) -> None:
    code = process.wait(timeout=timeout)
    if code != 0:
        errors = "\n".join(p.read_text(errors="replace")[-2000:] for p in workdir.glob("*.err"))
        raise AssertionError(f"sipp exited {code}:\n{errors}")


# The media gateway ------------------------------------------------------------------------------


def free_udp_range(size: int = 40) -> tuple[int, int]:
    """A run of free UDP ports below Linux's ephemeral range, where Chromium's own ports never fall."""
    for _ in range(200):
        first = random.randrange(20_000, 32_000 - size, 2)
        probes = []
        try:
            for port in range(first, first + size):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return first, first + size - 1
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError("no free run of UDP ports")


def rtpengine(workdir: Path) -> RtpEngineProcess:
    """A media gateway of the test's own: its NG port, its media ports; a deleted call goes at once."""
    gateway = RtpEngineProcess(workdir, free_udp_port(), free_udp_range(), delete_delay=0)
    return gateway.start(require_binary("rtpengine"))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
