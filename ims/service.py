"""The IMS-side process: keeps this shard's assigned identities registered with the IMS core.

It meets the Django side only through the channel layer (events from identity_blocks.events) and
the identity actions. In the demo it runs inside the `serve` process (the in-memory channel layer
does not cross processes); in production each `manage.py run_ims` is its own process, shard i of n.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from identity_blocks import actions
from identity_blocks.events import IMS_GROUP
from ims import actions as ims_actions
from ims.addressing import ContactUsers, asserted_identity, called_identity
from ims.calls import CallDesk
from ims.database import IN_FLIGHT
from ims.database import call as _db
from ims.identities import identity_config, live_assignments, stored_ha1, token_identity
from ims.models import PagerMessage
from ims.proxies import ProxyTargets
from ims.recovery import Recovery, every
from ims.registration import UNREACHABLE, IdentityConfig, Registration
from ims.standin import StandInCore
from ims.trust import TrustedPeers
from portal.batching import Batcher
from sip import challenges
from sip.headers import NameAddr
from sip.message import Request, Response
from sip.transaction import ServerTransaction, Timers
from sip.transport import (
    UDP_MTU_SAFE,
    Peer,
    StreamTransport,
    Transport,
    UdpTransport,
    WebSocketTransport,
    tls_context,
)
from sip.ua import UserAgent

log = logging.getLogger(__name__)

# Answers recorded alone cost a hand-off to the database thread, a statement and a commit each;
# gathered over 50 ms, the portal's CPU a message over the IMS fell 10 to 12 % at 50 and 100/s.
OUTCOME_LINGER_SECONDS = 0.05
# A MESSAGE the core did not answer is sent again after these pauses, doubling, until its deadline.
RESEND_FIRST_PAUSE, RESEND_MAX_PAUSE = 1.0, 10.0
# The methods the IMS side serves (§20.5), and those it knows and does not serve (405, not 501).
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE"
NOT_SERVED = {"REGISTER", "PRACK", "UPDATE", "INFO", "SUBSCRIBE", "NOTIFY", "REFER", "PUBLISH"}
SDP = "application/sdp"


async def _record_call(event: dict[str, Any]) -> None:
    try:
        await _db(ims_actions.call_changed)(event)
    except Exception:  # the call goes on without its record
        log.exception("could not record call %s", event.get("call"))


class DatabaseEvents:
    """Registration outcomes, written back through the identity actions."""

    async def registering(self, assignment_id: int) -> None:
        await _db(actions.mark_registering)(assignment_id)

    async def registered(self, assignment_id: int, until: datetime, service_route: list[str]) -> None:
        await _db(actions.mark_registered)(assignment_id, until=until)

    async def failed(self, assignment_id: int, reason: str) -> None:
        if reason == UNREACHABLE:
            await _db(actions.mark_unreachable)(assignment_id)
        else:
            await _db(actions.mark_registration_failed)(assignment_id, reason=reason)

    async def deregistered(self, assignment_id: int) -> None:
        await _db(actions.mark_deregistered)(assignment_id)


@dataclass
class ImsSide:
    shard_index: int = 0
    shard_count: int = 1
    events: Any = field(default_factory=DatabaseEvents)
    agents: dict[str, UserAgent] = field(default_factory=dict)
    # Per transport kind, the one opening of its agent that everyone who asks meanwhile awaits.
    opening: dict[str, asyncio.Future[UserAgent]] = field(default_factory=dict)
    registrations: dict[int, Registration] = field(default_factory=dict)
    keepalive: float = field(default_factory=lambda: float(settings.IMS_KEEPALIVE_SECONDS))
    # How often what is registered is compared with the live assignments in the database.
    reconcile: float = field(default_factory=lambda: float(settings.IMS_RECONCILE_SECONDS))
    calls: CallDesk = field(default_factory=lambda: CallDesk(records=_record_call))
    # The identities registered here by their Contact's user part: the core calls us at that Contact.
    contact_users: ContactUsers = field(default_factory=ContactUsers)
    timers: Timers = field(default_factory=Timers)  # T1 sets every transaction's pace, and Timer H
    # One identity's messages leave one at a time, each after the last was answered (so stored):
    # a chat shows a sender's messages in the order they were written.
    senders: dict[int, asyncio.Lock] = field(default_factory=dict)
    sending: set[asyncio.Task[None]] = field(default_factory=set)
    in_flight: set[int] = field(default_factory=set)  # ids of the messages on their way
    # Set once the shard's identities were registered at start: a MESSAGE sent before would find
    # the core still routing to this side's previous address (a restart listens on a new port).
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    proxies_down: set[Peer] = field(default_factory=set)
    # The operator's proxies as DNS names them (RFC 3263), and the moves from one that stopped
    # answering to the next.
    proxies: ProxyTargets = field(default_factory=ProxyTargets.from_settings)
    # Who requests are taken from: those proxies and IMS_TRUSTED_PEERS (ims.trust).
    trust: TrustedPeers = field(default_factory=TrustedPeers.from_settings)
    failovers: dict[Peer, asyncio.Task[bool]] = field(default_factory=dict)
    # Inbound MESSAGEs are stored in batches: one transaction for all that arrive meanwhile.
    inbox: Batcher[ims_actions.Inbound, ims_actions.Received] = field(
        default_factory=lambda: Batcher(ims_actions.receive_messages)
    )
    # And the answers to outbound ones, likewise; no one waits on those records (an identity's
    # next message leaves once the answer is in), so each waits a moment for others to join it.
    outcomes: Batcher[ims_actions.Outcome, PagerMessage] = field(
        default_factory=lambda: Batcher(ims_actions.message_outcomes, linger=OUTCOME_LINGER_SECONDS)
    )

    def __post_init__(self) -> None:
        self.recovery = Recovery(self)

    @classmethod
    def from_settings(cls) -> ImsSide:
        return cls(settings.IMS_SHARD_INDEX, settings.IMS_SHARD_COUNT)

    def mine(self, assignment_id: int) -> bool:
        return assignment_id % self.shard_count == self.shard_index

    async def agent_for(self, peer: Peer) -> UserAgent:
        """One transport of each kind per process, shared by every identity that uses it, however
        many identities ask at once while it opens (a burst of registrations did: one socket each)."""
        agent = self.agents.get(peer.transport)
        if agent is not None:
            return agent
        opening = self.opening.get(peer.transport)
        if opening is None:
            opening = self.opening[peer.transport] = asyncio.ensure_future(self._open_agent(peer.transport))
            opening.add_done_callback(functools.partial(self._opened, peer.transport))
        return await asyncio.shield(opening)

    def _opened(self, kind: str, opening: asyncio.Future[UserAgent]) -> None:
        if opening.cancelled() or opening.exception() is not None:
            self.opening.pop(kind, None)  # the next one to ask tries again

    async def _open_agent(self, kind: str) -> UserAgent:
        agent = UserAgent(await self._transport(kind), self.handle, self.timers, trusted=self.trust)
        agent.on_cancel, agent.on_ack = self.calls.cancelled, self.calls.acknowledged
        self.agents[kind] = agent
        return agent

    async def _transport(self, kind: str) -> Transport:
        if kind == "UDP":
            return await UdpTransport().start(settings.IMS_LISTEN_HOST, settings.IMS_LISTEN_PORT)
        tls = None
        if kind in ("TLS", "WSS"):
            files = (settings.IMS_TLS_CA_FILE, settings.IMS_TLS_CERT_FILE, settings.IMS_TLS_KEY_FILE)
            tls = tls_context(*(str(f) if f else None for f in files))
        return StreamTransport(tls=tls) if kind in ("TCP", "TLS") else WebSocketTransport(tls=tls)

    async def handle(self, request: Request, transaction: ServerTransaction) -> None:
        """Requests from the IMS core to our identities (the user agent let through only those of
        a trusted peer, well formed, requiring nothing unsupported)."""
        agent = self.agents[transaction.peer.transport]
        if request.method == "MESSAGE":
            transaction.respond(await self._inbound_message(agent, request))
        elif request.method == "INVITE":
            await self._inbound_call(agent, request, transaction)
        elif request.method == "BYE":
            if not self.calls.bye(request, transaction):
                transaction.respond(agent.response(request, 481, "Call/Transaction Does Not Exist"))
        elif request.method == "OPTIONS":
            transaction.respond(_with(agent.response(request, 200, "OK"), Allow=ALLOW, Accept=SDP))
        else:  # §8.2.1: a method known but not served is 405, an unknown one 501; both say what is
            known = request.method in NOT_SERVED
            response = agent.response(request, *((405, "Method Not Allowed") if known else (501, "Not Implemented")))
            transaction.respond(_with(response, Allow=ALLOW))

    async def _inbound_message(self, agent: UserAgent, request: Request) -> Response:
        """Stored for the identity called (as ims.addressing finds it), from the identity the core
        asserts; From is the sender's own claim and is never taken for who sent it."""
        called = called_identity(request, agent.transport.local[0], self.contact_users)
        sender = asserted_identity(request)
        content_type = request.get("Content-Type") or "text/plain"
        inbound = ims_actions.Inbound(called, sender, content_type, request.body, request.call_id, request.cseq[0])
        delivery, _ = await self.inbox.submit(inbound)
        status, reason = delivery.value
        response = agent.response(request, status, reason)
        if delivery == ims_actions.Delivery.UNSUPPORTED:
            response.add("Accept", ", ".join(ims_actions.TEXT_TYPES))  # §21.4.13
        return response

    async def _inbound_call(self, agent: UserAgent, request: Request, transaction: ServerTransaction) -> None:
        if NameAddr.parse(request["To"]).tag:
            if not self.calls.refresh(request, transaction):
                transaction.respond(agent.response(request, 481, "Call/Transaction Does Not Exist"))
            return
        refused = _media_refused(agent, request)
        if refused is not None:
            transaction.respond(refused)
            return
        called = called_identity(request, agent.transport.local[0], self.contact_users)
        found = await _db(ims_actions.callee)(called)
        if found is None:
            transaction.respond(agent.response(request, 404, "Not Found"))
        elif not found[2]:
            transaction.respond(agent.response(request, 480, "Temporarily Unavailable"))
        else:
            config = await self.config_of(found[0])  # its credentials, should the core challenge our BYE
            credentials = config.credentials if config else None
            call = (uuid.uuid4().hex, agent, request, transaction, found[1], called, credentials)
            await self.calls.ring(*call, caller=asserted_identity(request))

    async def place_call(self, event: dict[str, Any]) -> None:
        """A call from the holder's browser: its SDP offer goes out from the holder's identity."""
        assignment_id = int(event["assignment"])
        if not self.mine(assignment_id):
            return
        config = await self.configuration(assignment_id)
        if config is None or await _db(ims_actions.holder_group)(assignment_id) != event.get("holder"):
            return  # released meanwhile, or not this holder's identity
        registration = self.registrations.get(assignment_id)
        route = registration.service_route if registration else []
        agent = await self.agent_for(config.proxy)
        call = (str(event["call"]), str(event["holder"]), agent, config.proxy, config.impu)
        sdp = str(event.get("sdp", ""))
        await self.calls.place(*call, str(event.get("to", "")), sdp, route, credentials=config.credentials)

    def send_messages(self, event: dict[str, Any]) -> None:
        for item in event["messages"]:
            self.send_soon(item)

    def send_soon(self, item: dict[str, Any]) -> None:
        """Each of this shard's messages on a task of its own, started in the order they came:
        each takes its identity's lock first, and the lock is FIFO, so they leave in that order.
        A message already on its way here (asked for by an event and found by the sweep) is not
        sent twice."""
        message_id = int(item["id"])
        if not self.mine(int(item["assignment"])) or message_id in self.in_flight:
            return
        self.in_flight.add(message_id)
        task = asyncio.create_task(self.send_message(item))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def send_message(self, item: dict[str, Any]) -> None:
        message_id = int(item["id"])
        try:
            await self.ready.wait()
            async with self.senders.setdefault(int(item["assignment"]), asyncio.Lock()):
                response = await self._deliver(item)
            if response is not None:
                await self.outcomes.submit(ims_actions.Outcome(message_id, response.status, response.reason))
        finally:
            self.in_flight.discard(message_id)

    async def _deliver(self, item: dict[str, Any]) -> Response | None:
        """The core's answer, sending again while none comes (a timeout, a broken flow) until the
        message's deadline, then None: the sweep tells its sender. The identity's later messages
        wait meanwhile, so that a chat keeps each sender's order."""
        pause = RESEND_FIRST_PAUSE
        while True:
            config = await self.config_of(int(item["assignment"]))
            if config is None:
                return Response(status=480, reason="Identity released")
            to, content_type, body = str(item["to"]), str(item["content_type"]), str(item["body"])
            response = await self._send_pager(config, to, content_type, body, str(item.get("call_id") or ""))
            if not response.local:
                return response
            if time.time() + pause > float(item["deadline"]):
                return None
            await asyncio.sleep(pause)
            pause = min(pause * 2, RESEND_MAX_PAUSE)

    async def sweep_messages(self) -> None:
        """The database is the truth of what is to send: on start and then periodically, whatever
        is pending goes out again (an event lost with the IMS side or Redis down, a MESSAGE the
        core never answered) until its deadline passes and its sender is told."""
        while True:
            try:
                await _db(ims_actions.give_up_overdue)(self.shard_index, self.shard_count)
                for item in await _db(ims_actions.messages_to_send)(self.shard_index, self.shard_count):
                    self.send_soon(item)
            except Exception:
                log.exception("could not sweep the messages to send")
            await asyncio.sleep(settings.IMS_MESSAGE_SWEEP_SECONDS)

    async def config_of(self, assignment_id: int) -> IdentityConfig | None:
        """A registered identity's configuration is the one it registered with: a change to it or
        a release reaches this side as an event that re-registers or deregisters it first."""
        registration = self.registrations.get(assignment_id)
        if registration is not None and registration.registered_until is not None:
            return registration.config
        return await self.configuration(assignment_id)

    async def configuration(self, assignment_id: int) -> IdentityConfig | None:
        """The assignment's configuration, its proxy the operator's target in use (RFC 3263);
        that target and the others DNS names for the proxy are trusted from now on (ims.trust)."""
        config: IdentityConfig | None = await _db(identity_config)(assignment_id)
        if config is None:
            return None
        config = await self.proxies.config(config)
        await self.trust.learn([config.proxy, *self.proxies.alternatives(config.proxy)])
        return config

    async def _send_pager(
        self, config: IdentityConfig, to: str, content_type: str, body: str, call_id: str = ""
    ) -> Response:
        agent = await self.agent_for(config.proxy)
        request = agent.new_request("MESSAGE", to, from_uri=config.impu, to_uri=to, call_id=call_id or None)
        registration = self.registrations.get(config.assignment_id)
        for route in registration.service_route if registration else []:
            request.add("Route", route)  # RFC 3608: requests of this identity follow its Service-Route
        request.add("Content-Type", content_type)
        request.body = body.encode()
        peer = config.proxy
        if peer.transport == "UDP" and len(request.to_bytes()) + 200 > UDP_MTU_SAFE:
            peer = Peer("TCP", peer.host, peer.port)  # RFC 3261 §18.1.1: too large for UDP
            agent = await self.agent_for(peer)
        response = await challenges.request(agent, request, peer, config.credentials)
        if response.local and response.status == 503:  # a transport error; a timeout may be the callee's
            self.proxy_failed(peer)
        return response

    async def register(self, assignment_id: int) -> None:
        if not self.mine(assignment_id):
            return
        config = await self.configuration(assignment_id)
        if config is None:
            return
        agent = await self.agent_for(config.proxy)
        # Nothing awaited from here to the entry: an event and the sweep asking at once make one.
        registration = self.registrations.get(assignment_id)
        if registration is None or registration.config != config:
            if registration is not None:
                registration.stop()
            registration = Registration(agent, config, self.events)
            registration.proxy_failed = self.proxy_failed
            self.registrations[assignment_id] = registration
            self.contact_users.add(config.impu)
            self.recovery.watch(agent)
        await registration.register()

    async def deregister(self, assignment_id: int) -> None:
        if not self.mine(assignment_id):
            return
        registration = self.registrations.pop(assignment_id, None)
        if registration is None:
            await self.events.deregistered(assignment_id)
        else:
            self.contact_users.discard(registration.config.impu)
            await registration.deregister()

    async def register_all(self) -> None:
        """At start and every `reconcile` seconds, the database is the truth: register this shard's
        live assignments this process does not hold (events missed while it was down or away),
        and de-register those released behind its back."""
        held = set(self.registrations)  # before the query: one added meanwhile is in its answer
        live = set(await _db(live_assignments)(self.shard_index, self.shard_count))
        missing, gone = live - set(self.registrations), held - live
        if missing or gone:
            log.info(
                "IMS side shard %s/%s: registering %s identities, de-registering %s",
                self.shard_index + 1, self.shard_count, len(missing), len(gone),
            )  # fmt: skip
        await asyncio.gather(*(self.register(pk) for pk in missing), *(self.deregister(pk) for pk in gone))
        self.ready.set()

    async def proxy_answers(self, peer: Peer) -> bool:
        """Any answer to OPTIONS, even an error, shows the proxy is there; our own 408/503 does not."""
        agent = await self.agent_for(peer)
        probe = agent.new_request(
            "OPTIONS", f"sip:{peer.host}:{peer.port}", from_uri="sip:keepalive@invalid", to_uri=f"sip:{peer.host}"
        )
        try:
            response = await asyncio.wait_for(agent.request(probe, peer), timeout=min(self.keepalive, 4.0))
        except TimeoutError:
            return False
        return not response.local

    async def watch_proxies(self) -> None:
        """Every few seconds, for each proxy in use: an unanswered connection-oriented flow is dropped
        and recovered (RFC 5626 §4.4.1); a UDP proxy down shows its identities unreachable, and back
        up registers them again (it may have lost its bindings)."""
        while True:
            await asyncio.sleep(self.keepalive)
            for peer in {r.config.proxy for r in self.registrations.values()}:
                up = await self.proxy_answers(peer)
                if not up and await self.fail_over(peer):
                    continue
                if not up and peer.transport != "UDP":
                    self.recovery.flow_dead(peer)
                elif not up and peer not in self.proxies_down:
                    log.warning("proxy %s:%s does not answer", peer.host, peer.port)
                    self.proxies_down.add(peer)
                    await self.recovery.unreachable(peer)
                elif up and peer in self.proxies_down:
                    self.proxies_down.discard(peer)
                    await self.recovery.back(peer)

    async def dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("type", "")
        if kind == "ims.register":
            await self.register(int(event["assignment"]))
        elif kind == "ims.deregister":
            await self.deregister(int(event["assignment"]))
        elif kind == "ims.message.send":
            self.send_messages(event)
        elif kind == "ims.call.control" and event.get("action") == "start":
            await self.place_call(event)
        elif kind == "ims.call.control":
            await self.calls.control(event)
        else:
            log.warning("IMS side ignores event %s", kind)

    async def run(self, stop: asyncio.Event) -> None:
        layer = get_channel_layer()
        assert layer is not None, "the IMS side needs a channel layer"
        channel = await layer.new_channel()
        await layer.group_add(IMS_GROUP, channel)
        tasks: set[asyncio.Task[None]] = set()
        starting = asyncio.create_task(every(self.reconcile, self.register_all))
        watching = asyncio.create_task(self.watch_proxies())
        sweeping = asyncio.create_task(self.sweep_messages())
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                receiving = asyncio.create_task(layer.receive(channel))
                done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if receiving not in done:
                    receiving.cancel()
                    break
                task = asyncio.create_task(self.dispatch(receiving.result()))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            await layer.group_discard(IMS_GROUP, channel)
            for pending in (starting, watching, sweeping, stopping, *tasks, *self.sending):
                pending.cancel()
            await asyncio.gather(self.inbox.settled(), self.outcomes.settled(), IN_FLIGHT.settled())
            self.close()

    def proxy_failed(self, peer: Peer) -> asyncio.Task[bool]:
        """A request to `peer` got no answer (timeout, transport error): move on if another answers.
        One move per target at a time, however many requests failed at once."""
        task = self.failovers.get(peer)
        if task is None:
            task = self.failovers[peer] = asyncio.ensure_future(self._fail_over(peer))
            task.add_done_callback(lambda _: self.failovers.pop(peer, None))
        return task

    async def fail_over(self, peer: Peer) -> bool:
        return await asyncio.shield(self.proxy_failed(peer))

    async def _fail_over(self, peer: Peer) -> bool:
        """RFC 3263 §4.3: the identities behind a target that stopped answering register again
        through the next one DNS names that answers. False where none does (or there is no other):
        then they stay, and register again when it is back."""
        for candidate in self.proxies.alternatives(peer):
            if await self.proxy_answers(candidate):
                self.proxies.move(peer, candidate)
                self.proxies_down.discard(candidate)
                behind = [pk for pk, registration in self.registrations.items() if registration.config.proxy == peer]
                await asyncio.gather(*(self.register(pk) for pk in behind))
                return True
        return False

    def close(self) -> None:
        for task in self.failovers.values():
            task.cancel()
        for registration in self.registrations.values():
            registration.stop()
        for agent in self.agents.values():
            agent.close()


def _with(response: Response, **headers: str) -> Response:
    for name, value in headers.items():
        response.add(name, value)
    return response


def _media_refused(agent: UserAgent, invite: Request) -> Response | None:
    """An INVITE whose offer is not SDP (415, RFC 4475 §3.3.6), or that accepts no SDP answer
    (406 with a Warning, §3.3.15); None for one a call can be made of."""
    content_type = (invite.get("Content-Type") or SDP).partition(";")[0].strip().lower()
    if invite.body and content_type != SDP:
        return _with(agent.response(invite, 415, "Unsupported Media Type"), Accept=SDP)
    accepted = [value.partition(";")[0].strip().lower() for value in invite.get_all("Accept")]
    if accepted and not {SDP, "application/*", "*/*"} & set(accepted):
        warning = f'399 {agent.transport.local[0]} "the answer would be {SDP}, which the Accept header excludes"'
        return _with(agent.response(invite, 406, "Not Acceptable"), Warning=warning)
    return None


async def run(stop: asyncio.Event) -> None:
    """Serve until `stop` is set; in the demo, with the stand-in IMS core beside it."""
    standin = None
    if settings.IMS_STANDIN:
        standin = await StandInCore(_db(stored_ha1), token_identity).start("127.0.0.1", settings.IMS_STANDIN_PORT)
    side = ImsSide.from_settings()
    log.info("IMS side shard %s/%s ready", side.shard_index + 1, side.shard_count)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await side.run(stop)
    finally:
        if standin is not None:
            standin.close()
    log.info("IMS side stopped")
