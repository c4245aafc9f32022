"""A tiny authoritative DNS server on loopback UDP for tests: real DNS packets, answers built with
dnspython's message API from records a test sets (and may change while it runs)."""

from __future__ import annotations

import socket
import threading
from collections import Counter

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsServer:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], tuple[int, list[str]]] = {}
        self.queries: Counter[tuple[str, str]] = Counter()  # (name, type) asked, how often
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set(self, name: str, rdtype: str, *rdatas: str, ttl: int = 300) -> None:
        """Replace the records of `name` and `rdtype` (no rdatas: remove them)."""
        with self._lock:
            key = (dns.name.from_text(name).to_text().lower(), rdtype.upper())
            if rdatas:
                self.records[key] = (ttl, list(rdatas))
            else:
                self.records.pop(key, None)

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        for question in query.question:
            name, rdtype = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
            with self._lock:
                self.queries[(name, rdtype)] += 1
                found = self.records.get((name, rdtype))
                known = any(owner == name for owner, _ in self.records)
            if found is not None:
                ttl, rdatas = found
                response.answer.append(dns.rrset.from_text(name, ttl, "IN", rdtype, *rdatas))
            elif not known:
                response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, client = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            self._sock.sendto(self.answer(wire), client)

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
