"""Whom the IMS side takes requests from: its operator's proxies, never anyone who finds its port.

An IMS core reaches the portal's identities only through the outbound proxy (TS 24.229 §5.2), and
only a request from inside that trust domain may carry the identity of its sender in
P-Asserted-Identity (RFC 3325 §4): the identity a message or a call is shown from. So a request is
taken from an address the outbound proxy's URI resolves to (each target DNS names, RFC 3263), or
one IMS_TRUSTED_PEERS names; from anywhere else it is answered 403 and nothing is done with it.
Connection-oriented flows (TCP, TLS, WebSocket) are only ever opened by the IMS side, to a proxy
target (under TLS, one whose certificate the operator's CA signed), so they pass by the same rule.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable

from django.conf import settings

from sip.transport import Peer

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedPeers:
    def __init__(self, networks: Iterable[str] = ()) -> None:
        self.networks: list[Network] = [ipaddress.ip_network(n, strict=False) for n in networks]
        self.addresses: set[Address] = set()  # the proxies', as they resolved
        self.hosts: set[str] = set()  # the proxies' as written: a flow the IMS side opened is keyed so

    @classmethod
    def from_settings(cls) -> TrustedPeers:
        return cls(settings.IMS_TRUSTED_PEERS)

    async def learn(self, peers: Iterable[Peer]) -> None:
        """Trust these proxy targets: their addresses, a host name's as the system resolves it."""
        for peer in peers:
            if peer.host in self.hosts:
                continue
            self.hosts.add(peer.host)
            address = _address(peer.host)
            if address is not None:
                self.addresses.add(address)
                continue
            try:
                found = await asyncio.get_running_loop().getaddrinfo(peer.host, peer.port, type=socket.SOCK_DGRAM)
            except OSError as error:
                log.warning("cannot resolve proxy %s to trust it: %s", peer.host, error)
                self.hosts.discard(peer.host)  # asked again with the next configuration
                continue
            self.addresses.update(a for info in found if (a := _address(str(info[4][0]))) is not None)

    def __call__(self, peer: Peer) -> bool:
        if peer.host in self.hosts:
            return True
        address = _address(peer.host)
        if address is None:
            return False
        return address in self.addresses or any(address in network for network in self.networks)


def _address(host: str) -> Address | None:
    """The IP address `host` writes, an IPv4-mapped IPv6 address as its IPv4; None for a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]").partition("%")[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address
