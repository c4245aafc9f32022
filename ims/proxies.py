"""Which of the operator's proxies the IMS side uses: the targets DNS names for the outbound proxy's
URI (RFC 3263), the first until it stops answering, then the next (§4.3)."""

from __future__ import annotations

import dataclasses
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ims.registration import IdentityConfig
from sip.resolve import Locator, Unresolvable
from sip.transport import Peer
from sip.uri import InvalidUri

log = logging.getLogger(__name__)


class ProxyTargets:
    def __init__(self, locator: Locator) -> None:
        self.locator = locator
        # Per proxy URI: the targets last located, and the one in use.
        self.in_use: dict[str, tuple[list[Peer], Peer]] = {}

    @classmethod
    def from_settings(cls) -> ProxyTargets:
        try:
            return cls(Locator(settings.IMS_DNS_SERVER))
        except ValueError as error:
            raise ImproperlyConfigured(f"IMS_DNS_SERVER: {error}") from error

    async def current(self, uri: str) -> Peer:
        """The target in use for `uri`: the one chosen before while the DNS still names it, else
        the first it names now (a re-resolution after the TTL may reorder or replace them)."""
        targets = await self.locator.targets(uri)
        chosen = self.in_use.get(uri, (targets, targets[0]))[1]
        if chosen not in targets:
            chosen = targets[0]
        self.in_use[uri] = (targets, chosen)
        return chosen

    def alternatives(self, peer: Peer) -> list[Peer]:
        """The other targets of the URIs using `peer`, each URI's in its order from the one after it."""
        found: list[Peer] = []
        for targets, chosen in self.in_use.values():
            if chosen == peer:
                start = targets.index(peer) + 1
                found += [t for t in targets[start:] + targets[:start] if t != peer and t not in found]
        return found

    def move(self, peer: Peer, to: Peer) -> None:
        """Every URI using `peer` that also names `to` uses `to` from now on."""
        for uri, (targets, chosen) in list(self.in_use.items()):
            if chosen == peer and to in targets:
                self.in_use[uri] = (targets, to)
                log.warning("%s: %s does not answer; using %s", uri, peer, to)

    async def config(self, config: IdentityConfig) -> IdentityConfig:
        """`config` with its proxy the target in use; where DNS names none, the URI's host as the
        system resolves it, as before (a misconfigured URI is reported when identity_config reads it)."""
        if not config.proxy_uri:
            return config
        try:
            return dataclasses.replace(config, proxy=await self.current(config.proxy_uri))
        except (Unresolvable, InvalidUri) as error:
            log.warning("cannot locate %s: %s", config.proxy_uri, error)
            return config
