"""Locating SIP servers (RFC 3263 §4): a proxy's URI to the ordered targets to try, each a
transport, an address and a port; on failure a client moves on to the next (§4.3).

NAPTR picks the transports the domain offers and their order, SRV (RFC 2782) the hosts and ports
by priority and weight, A/AAAA the addresses. The answers are kept for their TTL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import math
import random
import time
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.NAPTR import NAPTR
from dns.rdtypes.IN.SRV import SRV

from sip.transport import Peer
from sip.uri import InvalidUri, SipUri, parse_uri

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"UDP": 5060, "TCP": 5060, "TLS": 5061, "WS": 80, "WSS": 443}
# NAPTR services (RFC 3263 §4.1; RFC 7118 for WebSocket) and the transport each means.
SERVICES = {"SIP+D2U": "UDP", "SIP+D2T": "TCP", "SIPS+D2T": "TLS", "SIP+D2W": "WS", "SIPS+D2W": "WSS"}
SECURE = {"TLS", "WSS"}
# SRV owner names per transport (RFC 3263 §4.2); WebSocket has none, so its default port is used.
SRV_PREFIXES = {"UDP": "_sip._udp", "TCP": "_sip._tcp", "TLS": "_sips._tcp"}
# Tried in this order when the domain has no NAPTR records.
FALLBACK_ORDER = ("UDP", "TCP", "TLS")
# While the DNS fails, the last answer serves this long before it is asked again.
STALE_SECONDS = 30.0


class Unresolvable(LookupError):
    """No target at all for a URI, or the DNS did not answer."""


@dataclass(frozen=True)
class Located:
    targets: list[Peer]
    ttl: float  # seconds the answers stay good: the smallest TTL of the records used


def _transport(uri: SipUri) -> str | None:
    """The URI's own transport parameter, as a transport name; a SIPS URI's is secured (§4.1)."""
    param = uri.params.get("transport")
    if param is None:
        return None
    kind = param.upper()
    if uri.scheme == "sips":
        kind = {"TCP": "TLS", "WS": "WSS"}.get(kind, kind)
    if kind not in DEFAULT_PORTS or (uri.scheme == "sips" and kind not in SECURE):
        raise InvalidUri(f"{uri}: transport {param} is not one this client speaks")
    return kind


def _numeric(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def srv_order(records: list[SRV], rng: random.Random) -> list[SRV]:
    """RFC 2782: lowest priority first; within one, a weighted random draw, weight 0 last in odds."""
    ordered: list[SRV] = []
    for priority in sorted({record.priority for record in records}):
        group = sorted((r for r in records if r.priority == priority), key=lambda r: r.weight)
        while group:
            pick = rng.randint(0, sum(r.weight for r in group))
            sums = itertools.accumulate(r.weight for r in group)
            ordered.append(group.pop(next(i for i, total in enumerate(sums) if total >= pick)))
    return ordered


def nameserver(text: str) -> tuple[str, int]:
    """'127.0.0.1:5353', '[::1]:53' or a bare address (port 53)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") if rest else ""
    else:
        host, _, port = text.partition(":") if text.count(":") == 1 else (text, "", "")
    if _numeric(host) is None or (port and not (port.isdigit() and 0 < int(port) <= 65535)):
        raise ValueError(f"{text!r} is not an address[:port] of a DNS server")
    return host, int(port or 53)


class _Lookup:
    """One resolution's queries, and the smallest TTL among their answers."""

    def __init__(self, resolver: dns.asyncresolver.Resolver) -> None:
        self.resolver = resolver
        self.ttl = math.inf

    async def records(self, name: str, rdtype: str) -> list[object]:
        try:
            answer = await self.resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as error:
            raise Unresolvable(f"{name} {rdtype}: {error}") from error
        if answer.rrset is not None:
            self.ttl = min(self.ttl, answer.rrset.ttl)
        return list(answer)

    async def addresses(self, host: str, port: int, transport: str) -> list[Peer]:
        """A before AAAA: the IMS side's sockets are IPv4 unless configured otherwise."""
        found = [r.address for r in await self.records(host, "A") if isinstance(r, A)]
        found += [r.address for r in await self.records(host, "AAAA") if isinstance(r, AAAA)]
        return [Peer(transport, str(address), port) for address in found]

    async def service(self, name: str, transport: str, rng: random.Random) -> list[Peer]:
        """The targets of one SRV name, in RFC 2782 order; a target of '.' offers nothing."""
        records = [r for r in await self.records(name, "SRV") if isinstance(r, SRV) and len(r.target) > 1]
        targets: list[Peer] = []
        for record in srv_order(records, rng):
            targets += await self.addresses(record.target.to_text(), record.port, transport)
        return targets

    async def naptr(self, host: str, scheme: str) -> list[tuple[str, str]]:
        """(transport, SRV name) of each usable NAPTR record, by order then preference (§4.1)."""
        usable = []
        for record in await self.records(host, "NAPTR"):
            if not isinstance(record, NAPTR) or record.flags.lower() != b"s":
                continue
            transport = SERVICES.get(record.service.decode(errors="replace").upper())
            if transport is not None and (scheme == "sip" or transport in SECURE):
                usable.append((record.order, record.preference, transport, record.replacement.to_text()))
        return [(transport, name) for _, _, transport, name in sorted(usable, key=lambda u: u[:2])]


class Locator:
    """RFC 3263 §4 for the URIs asked about, each one's answer kept until its TTL runs out. With a
    `server` ("127.0.0.1:5353"), that DNS server is asked; without, the system's resolvers."""

    def __init__(self, server: str = "", rng: random.Random | None = None) -> None:
        self.server = nameserver(server) if server else None
        self.rng = rng or random.Random()  # noqa: S311 (load spreading, not security)
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._cache: dict[str, tuple[float, list[Peer]]] = {}
        self._pending: dict[str, asyncio.Future[list[Peer]]] = {}

    def resolver(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            try:
                self._resolver = dns.asyncresolver.Resolver(configure=self.server is None)
            except dns.exception.DNSException as error:  # no /etc/resolv.conf, say
                raise Unresolvable(f"no DNS resolver: {error}") from error
            if self.server is not None:
                self._resolver.nameservers, self._resolver.port = [self.server[0]], self.server[1]
        return self._resolver

    async def locate(self, uri: str) -> Located:
        """The targets of `uri` in the order to try them, asked of the DNS now."""
        parsed = parse_uri(uri)
        if not isinstance(parsed, SipUri):
            raise InvalidUri(f"{uri}: a server is located from a SIP URI")
        transport = _transport(parsed)
        default = transport or ("TLS" if parsed.scheme == "sips" else "UDP")
        address = _numeric(parsed.host)
        if address is not None:
            return Located([Peer(default, address, parsed.port or DEFAULT_PORTS[default])], math.inf)
        lookup = _Lookup(self.resolver())
        if parsed.port is not None:
            targets = await lookup.addresses(parsed.host, parsed.port, default)
        else:
            targets = await self._services(lookup, parsed, transport)
            targets = targets or await lookup.addresses(parsed.host, DEFAULT_PORTS[default], default)
        if not targets:
            raise Unresolvable(f"{uri}: the DNS names no server for it")
        return Located(list(dict.fromkeys(targets)), lookup.ttl)

    async def _services(self, lookup: _Lookup, uri: SipUri, transport: str | None) -> list[Peer]:
        """§4.1-4.2 for a name without a port: SRV of the URI's transport, else NAPTR's, else each's."""
        if transport is not None:
            prefix = SRV_PREFIXES.get(transport)
            return await lookup.service(f"{prefix}.{uri.host}.", transport, self.rng) if prefix else []
        services = await lookup.naptr(f"{uri.host}.", uri.scheme)
        if not services:
            kinds = FALLBACK_ORDER if uri.scheme == "sip" else ("TLS",)
            services = [(kind, f"{SRV_PREFIXES[kind]}.{uri.host}.") for kind in kinds]
        targets: list[Peer] = []
        for kind, name in services:
            targets += await lookup.service(name, kind, self.rng)
        return targets

    async def targets(self, uri: str) -> list[Peer]:
        """`locate`, answered from the cache until the TTL runs out; one look-up for all who ask
        meanwhile. When the DNS fails, the last answer serves on (and the next ask tries again)."""
        cached = self._cache.get(uri)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        pending = self._pending.get(uri)
        if pending is None:
            pending = self._pending[uri] = asyncio.ensure_future(self._refresh(uri))
            pending.add_done_callback(lambda _: self._pending.pop(uri, None))
        return await asyncio.shield(pending)

    async def _refresh(self, uri: str) -> list[Peer]:
        try:
            located = await self.locate(uri)
        except Unresolvable as error:
            stale = self._cache.get(uri)
            if stale is None:
                raise
            log.warning("%s; using its last answer", error)
            self._cache[uri] = (time.monotonic() + STALE_SECONDS, stale[1])
            return stale[1]
        self._cache[uri] = (time.monotonic() + located.ttl, located.targets)
        return located.targets
