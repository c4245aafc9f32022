"""Noticing that the core lost this side's registrations, and registering them again.

A connection-oriented flow to the proxy (TCP, TLS, WebSocket) that the peer closes, that breaks, or
whose keep-alive goes unanswered means the core may have restarted and lost every binding made over
it: RFC 5626 §4.5 flow recovery registers each of them again at once, over a new connection, and
keeps probing the proxy until it answers. Over UDP there is no flow to lose: only the keep-alive
shows the proxy gone and back (see README, "IMS side").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from ims.registration import Registration
from sip.transport import ConnectedTransport, Peer
from sip.ua import UserAgent

log = logging.getLogger(__name__)

# While a flow's identities wait for the proxy, it is probed after 0.5 s, then 1, 2, 2, ... (one
# OPTIONS per proxy, not per identity): they are back within seconds of it, not after their backoff.
FIRST_PROBE_SECONDS, LAST_PROBE_SECONDS = 0.5, 2.0


class Side(Protocol):
    """What recovery needs of the IMS side (ims.service.ImsSide)."""

    registrations: dict[int, Registration]
    agents: dict[str, UserAgent]
    keepalive: float

    async def proxy_answers(self, peer: Peer) -> bool: ...


@dataclass
class Recovery:
    side: Side
    recovering: dict[Peer, asyncio.Task[None]] = field(default_factory=dict)
    # Flows that broke again while their recovery ran: it goes round once more.
    again: set[Peer] = field(default_factory=set)

    def watch(self, agent: UserAgent) -> None:
        """Be told when a flow of this agent's transport ends (datagrams have none)."""
        if isinstance(agent.transport, ConnectedTransport):
            agent.transport.flow_closed = self.flow_failed

    def behind(self, peer: Peer) -> list[Registration]:
        return [r for r in self.side.registrations.values() if r.config.proxy == peer and not r.gave_up]

    def flow_failed(self, peer: Peer) -> None:
        if not self.behind(peer):
            return  # a flow no identity registered over (a large MESSAGE's, say)
        if peer in self.recovering:
            self.again.add(peer)
            return
        log.warning("flow to %s %s:%s closed: registering its identities again", peer.transport, peer.host, peer.port)
        task = asyncio.get_running_loop().create_task(self._recover(peer))
        self.recovering[peer] = task
        task.add_done_callback(lambda _: self.recovering.pop(peer, None))

    def flow_dead(self, peer: Peer) -> None:
        """Its keep-alive went unanswered: drop the flow (whose end starts recovery), if it is open."""
        if peer in self.recovering:
            return  # already probing the proxy
        agent = self.side.agents.get(peer.transport)
        transport = agent.transport if agent is not None else None
        if isinstance(transport, ConnectedTransport) and transport.connected(peer):
            transport.drop(peer)
        else:
            self.flow_failed(peer)

    async def _recover(self, peer: Peer) -> None:
        while True:
            self.again.discard(peer)
            await _register(self.behind(peer))  # at once, over a new flow
            await self._until_answered(peer)
            if peer not in self.again:
                return

    async def _until_answered(self, peer: Peer) -> None:
        """While some are unregistered (the core is down), probe it; once it answers, register them.
        Each one also retries on its own backoff: the probe only spares them its later, longer waits."""
        delay = FIRST_PROBE_SECONDS
        while self.unregistered(peer) and peer not in self.again:
            if await self.side.proxy_answers(peer):
                await _register(self.unregistered(peer))
                return
            await asyncio.sleep(delay)
            delay = min(2 * delay, LAST_PROBE_SECONDS)

    def unregistered(self, peer: Peer) -> list[Registration]:
        return [r for r in self.behind(peer) if r.registered_until is None]

    async def unreachable(self, peer: Peer) -> None:
        """A datagram proxy stopped answering keep-alives: its identities show it."""
        await asyncio.gather(*(r.unreachable() for r in self.behind(peer)))

    async def back(self, peer: Peer) -> None:
        """It answers again, and may have lost every binding: all of them register again."""
        behind = self.behind(peer)
        log.warning("proxy %s:%s is back: registering %s identities again", peer.host, peer.port, len(behind))
        await _register(behind)


async def _register(registrations: list[Registration]) -> None:
    """Each registers on its own: one that fails outright (its outcome cannot be written, the
    database away) is logged, and the others go on."""
    outcomes = await asyncio.gather(*(r.register() for r in registrations), return_exceptions=True)
    for registration, outcome in zip(registrations, outcomes, strict=True):
        if isinstance(outcome, Exception):
            log.error("registering %s again failed: %r", registration.config.impu, outcome)


async def every(seconds: float, job: Callable[[], Awaitable[None]]) -> None:
    """Run `job` now and then every `seconds`; a failure (the database away) waits for the next turn."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed; again in %s s", getattr(job, "__name__", job), seconds)
        await asyncio.sleep(seconds)
