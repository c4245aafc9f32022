"""Calls of assigned identities (RFC 3261 §13-15), in both directions.

Incoming: the holder's browsers ring; one answers (with its SDP), declines, or lets it ring out.
Outgoing: the browser's SDP offer goes out in an INVITE; provisional answers ring, a 2xx is
ACKed and connects, hanging up while ringing is a CANCEL. Either side may end a call with BYE.
The SDP passes through unchanged here; the per-call media policy (pass-through or conversion by
the media gateway) plugs in where it is read and written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from channels.layers import get_channel_layer
from django.utils.translation import gettext_noop

from ims import release
from ims.media import MediaCall, MediaPolicy, MediaRefused, configured
from sip import challenges
from sip.digest import DigestCredentials
from sip.headers import NameAddr, new_branch, new_tag
from sip.message import Request, Response
from sip.transaction import ServerTransaction, client_key
from sip.transport import Peer
from sip.ua import UserAgent

log = logging.getLogger(__name__)

RING_SECONDS = 60.0
RECORDED = frozenset({"calling", "ringing", "connected", "ended"})  # the states a call's record keeps
Recorder = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]


@dataclass
class Call:
    key: str
    holder_group: str
    agent: UserAgent
    invite: Request
    peer: Peer
    contact: str
    outgoing: bool
    local_tag: str
    remote_tag: str | None = None
    state: str = "calling"
    cseq: int = 1
    answer_sdp: str = ""  # this side's session description, as last agreed
    remote_sdp: str = ""  # the other side's
    transaction: ServerTransaction | None = None  # incoming calls: the INVITE's
    remote_target: str = ""
    route_set: list[str] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    ending: str = ""  # why the caller gave up, once it sent CANCEL
    # Mid-call offers (re-INVITE, §14): ours awaiting the other side's answer, or theirs awaiting
    # the browser's; while either is pending, another is answered 491 Request Pending.
    reoffer: Request | None = None
    reoffered: tuple[Request, ServerTransaction] | None = None
    called: str = ""  # incoming: the identity called, found by the Request-URI (ims.addressing), not To
    caller: str = ""  # incoming: the identity the core asserts for the caller (ims.addressing), not From
    credentials: DigestCredentials | None = None  # the identity's, for a core that challenges its requests

    # Read on every event of the call; the INVITE's From and To never change within it (a resent
    # INVITE keeps them, §8.1.3.5), and `called`/`caller` are given when the call is made.
    @cached_property
    def local_uri(self) -> str:
        if self.called:
            return self.called
        return NameAddr.parse(self.invite["From" if self.outgoing else "To"]).uri

    @cached_property
    def remote_uri(self) -> str:
        return NameAddr.parse(self.invite["To"]).uri if self.outgoing else self.caller

    @property
    def media_call(self) -> MediaCall:
        """What the media policy is told of the call."""
        return MediaCall(self.key, self.outgoing, self.local_uri, self.remote_uri)


def _contact(agent: UserAgent, identity: str) -> str:
    return f"<{agent.contact_for(identity)}>"


def _route_to(proxy: Peer) -> str:
    """The outbound proxy as a loose-routing Route entry."""
    host = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
    transport = "" if proxy.transport == "UDP" else f";transport={proxy.transport.lower()}"
    return f"<sip:{host}:{proxy.port};lr{transport}>"


class CallDesk:
    def __init__(
        self, ring_seconds: float = RING_SECONDS, media: MediaPolicy | None = None, records: Recorder | None = None
    ) -> None:
        self.calls: dict[str, Call] = {}
        self.ring_seconds = ring_seconds
        self.media = media or configured()
        self.records = records  # keeps each call's record (ims.actions.call_changed), when given
        self._sending: set[asyncio.Task[None]] = set()

    def _tell(self, call: Call, state: str, **extra: Any) -> None:
        """To every browser of the holder, from this loop (never another: the demo's layer is in memory)."""
        if not state.startswith("update"):  # a mid-call offer's events leave the call answered or connected
            call.state = state
        event: dict[str, Any] = {"type": "ims.call", "call": call.key, "state": state}
        event.update(
            direction="out" if call.outgoing else "in", caller=call.local_uri if call.outgoing else call.remote_uri
        )
        event.update(callee=call.remote_uri if call.outgoing else call.local_uri, **extra)
        if state == "connected":  # the media path decided for the call, and its codec
            event.update(self.media.recorded(call.key))
        layer = get_channel_layer()
        if layer is not None:
            self._spawn(layer.group_send(call.holder_group, event))
        if self.records is not None and state in RECORDED:
            self._spawn(self.records({key: value for key, value in event.items() if key != "sdp"}))

    def _end(self, call: Call, reason: str) -> None:
        if call.timer is not None:
            call.timer.cancel()
        if self.calls.pop(call.key, None) is not None:
            self._tell(call, "ended", reason=reason)
            self._spawn(self.media.ended(call.media_call))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _find(self, request: Request) -> Call | None:
        """The call an in-dialog request belongs to: same Call-ID, sent by the other side."""
        tag = NameAddr.parse(request["From"]).tag
        for call in self.calls.values():
            remote = call.remote_tag if call.outgoing else NameAddr.parse(call.invite["From"]).tag
            if call.invite.call_id == request.call_id and tag == remote:
                return call
        return None

    # Incoming ------------------------------------------------------------------------------

    async def ring(
        self, key: str, agent: UserAgent, invite: Request, transaction: ServerTransaction, group: str,
        called: str = "", credentials: DigestCredentials | None = None, *, caller: str,
    ) -> Call:  # fmt: skip
        called = called or NameAddr.parse(invite["To"]).uri
        call = Call(
            key, group, agent, invite, transaction.peer, _contact(agent, called), False, new_tag(),
            transaction=transaction, called=called, caller=caller, credentials=credentials,
        )  # fmt: skip
        self.calls[key] = call
        transaction.respond(self._response(call, 180, "Ringing"))
        call.timer = asyncio.get_running_loop().call_later(self.ring_seconds, self._no_answer, key)
        call.remote_sdp = invite.body.decode("utf-8", errors="replace")
        try:
            offer = await self.media.toward_browser(call.media_call, call.remote_sdp)
        except MediaRefused as refused:
            self._refuse(call, refused)
            return call
        self._tell(call, "ringing", sdp=offer)
        return call

    def _refuse(self, call: Call, refused: MediaRefused) -> None:
        """503 to the INVITE, why in a Warning (§20.43), and the call is over."""
        assert call.transaction is not None
        response = self._response(call, 503, "Service Unavailable")
        response.add("Warning", f'399 {call.agent.transport.local[0]} "{str(refused).replace(chr(34), chr(39))}"')
        call.transaction.respond(response)
        self._end(call, str(refused))

    def _response(self, call: Call, status: int, reason: str, sdp: str = "") -> Response:
        """To the call's INVITE."""
        return self._response_to(call, call.invite, sdp, status, reason)

    def _response_to(self, call: Call, request: Request, sdp: str, status: int = 200, reason: str = "OK") -> Response:
        """To a request of the call's dialog (the INVITE, or a re-INVITE), from this side."""
        response = call.agent.response(request, status, reason, to_tag=call.local_tag)
        if status < 300:
            response.add("Contact", call.contact)
        if sdp:
            response.add("Content-Type", "application/sdp")
            response.body = sdp.encode()
        return response

    def _no_answer(self, key: str) -> None:
        call = self.calls.get(key)
        if call is not None and call.state == "ringing" and call.transaction is not None:
            call.transaction.respond(self._response(call, 480, "Temporarily Unavailable"))
            self._end(call, "no answer")

    def cancelled(self, invite: Request) -> None:
        call = self._find(invite)
        if call is not None:
            self._end(call, "cancelled by the caller")

    def acknowledged(self, ack: Request) -> None:
        call = self._find(ack)
        if call is not None and call.state == "answered":
            if call.timer is not None:
                call.timer.cancel()
            self._tell(call, "connected")

    def _await_ack(self, call: Call) -> None:
        """Answered is not connected until the ACK comes: none within 64·T1 ends the call with a BYE
        (§13.3.1.4), as the 2xx stops being resent then."""
        loop = asyncio.get_running_loop()
        call.timer = loop.call_later(call.agent.timers.timeout, self._never_acknowledged, call.key)

    def _never_acknowledged(self, key: str) -> None:
        call = self.calls.get(key)
        if call is not None and call.state == "answered":
            self._spawn(self._hang_up(call, gettext_noop("the other side never confirmed the answer")))

    def refresh(self, request: Request, transaction: ServerTransaction) -> bool:
        """A re-INVITE in a call. Without a body, or with the offer already agreed, it refreshes the
        session and is answered with what we agreed; a new offer (hold, video, an ICE restart) goes
        to the browser, whose answer comes back as `update_answer`. One crossing ours: 491 (§14.2)."""
        call = self._find(request)
        if call is None or call.state not in ("answered", "connected"):
            return False
        offer = request.body.decode("utf-8", errors="replace")
        if call.reoffer is not None or call.reoffered is not None:
            transaction.respond(call.agent.response(request, 491, "Request Pending", to_tag=call.local_tag))
        elif not offer or offer == call.remote_sdp:
            transaction.respond(self._response_to(call, request, call.answer_sdp))
        else:
            call.reoffered = (request, transaction)
            call.remote_sdp = offer
            self._spawn(self._offer_to_browser(call, offer))
        return True

    async def _offer_to_browser(self, call: Call, offer: str) -> None:
        try:
            self._tell(call, "update", sdp=await self.media.toward_browser(call.media_call, offer))
        except MediaRefused as refused:
            assert call.reoffered is not None
            request, transaction = call.reoffered
            call.reoffered = None
            transaction.respond(call.agent.response(request, 503, str(refused)[:100], to_tag=call.local_tag))

    def bye(self, request: Request, transaction: ServerTransaction) -> bool:
        call = self._find(request)
        if call is None:
            return False
        transaction.respond(call.agent.response(request, 200, "OK"))
        cause = release.cause_of(request.get("Reason"))
        self._end(call, f"the other side: {cause}" if cause else "the other side hung up")
        return True

    # Outgoing ------------------------------------------------------------------------------

    async def place(
        self, key: str, group: str, agent: UserAgent, peer: Peer, identity: str, to: str, sdp: str,
        service_route: list[str], *, credentials: DigestCredentials | None = None,
    ) -> None:  # fmt: skip
        invite = agent.new_request("INVITE", to, from_uri=identity, to_uri=to)
        for route in service_route:
            invite.add("Route", route)
        call = Call(
            key, group, agent, invite, peer, _contact(agent, identity), True, NameAddr.parse(invite["From"]).tag or ""
        )
        call.credentials = credentials
        invite.add("Contact", call.contact)
        invite.add("Content-Type", "application/sdp")
        try:
            call.answer_sdp = await self.media.toward_ims(call.media_call, sdp)
        except MediaRefused as refused:  # no INVITE leaves
            self._tell(call, "ended", reason=str(refused))
            return
        invite.body = call.answer_sdp.encode()
        self.calls[key] = call
        self._tell(call, "calling")
        call.timer = asyncio.get_running_loop().call_later(self.ring_seconds, self._ring_out, key)
        response = await challenges.request(
            agent, invite, peer, credentials, provisional=lambda early: self._early(call, early),
            resending=lambda again: self._invite_resent(call, again),
        )  # fmt: skip
        if call.timer is not None:
            call.timer.cancel()
        if 200 <= response.status < 300 and key in self.calls:
            call.remote_sdp = response.body.decode("utf-8", errors="replace")
            try:
                answer = await self.media.toward_browser(call.media_call, call.remote_sdp)
            except MediaRefused as refused:  # answered, but its media cannot be carried
                self._confirm(call, response, None)
                await self._hang_up(call, str(refused))
                return
            self._confirm(call, response, answer)
        elif response.status >= 300:
            fallback = "cancelled" if response.status == 487 else f"{response.status} {response.reason}"
            self._end(call, call.ending or fallback)

    def _invite_resent(self, call: Call, invite: Request) -> bool:
        """The INVITE again, with credentials (same Call-ID and From tag, next CSeq): the one a CANCEL
        and the ACK now name. Not sent when the caller gave up meanwhile."""
        call.invite, call.cseq = invite, invite.cseq[0]
        return not call.ending and call.key in self.calls

    def _early(self, call: Call, response: Response) -> None:
        if response.status > 100 and call.state == "calling":
            sdp = response.body.decode("utf-8", errors="replace") if response.body else ""
            self._tell(call, "ringing", **({"sdp": sdp} if sdp else {}))

    def _confirm(self, call: Call, response: Response, answer: str | None) -> None:
        """ACK the 2xx (a request of its own, §13.2.2.4) and remember the dialog."""
        call.remote_tag = NameAddr.parse(response["To"]).tag
        call.remote_target = NameAddr.parse(response.get("Contact") or call.invite.uri).uri
        call.route_set = list(reversed(response.get_all("Record-Route")))
        ack = self._in_dialog(call, "ACK", response["To"], number=call.cseq)
        for name in ("Authorization", "Proxy-Authorization"):  # the INVITE's credentials (§13.2.2.4)
            for value in call.invite.get_all(name):
                ack.add(name, value)
        call.agent.send_soon(ack.to_bytes(), call.peer, None)
        if answer is not None:
            self._tell(call, "connected", sdp=answer)

    def _ring_out(self, key: str) -> None:
        call = self.calls.get(key)
        if call is not None and call.outgoing and call.state in ("calling", "ringing"):
            self._spawn(self._give_up(call, "no answer"))

    async def _give_up(self, call: Call, reason: str) -> None:
        """CANCEL a call still ringing; the INVITE's 487 then ends it (§9.1)."""
        if call.ending:
            return
        call.ending = reason
        invite = call.agent.client_transactions.get(client_key(call.invite))
        if invite is not None:
            invite.cancelled()
        await call.agent.request(self._cancel(call), call.peer, new_via=False)

    def _in_dialog(self, call: Call, method: str, remote: str, number: int) -> Request:
        """Every request of a dialog (ACK, BYE, re-INVITE) goes to the outbound proxy, call.peer: in
        the IMS the P-CSCF is always the first hop (TS 24.229 §5.1.2A.1.1). Its Route is the dialog's
        route set (§12.2.1.1); where that is empty (a far end that did not copy Record-Route), the
        proxy's own URI, so that the proxy sees a request routed through it and forwards it by its
        Request-URI, the remote target, as in a dialog it record-routed (RFC 3261 §16.4)."""
        request = Request(method=method, uri=call.remote_target)
        host, port = call.agent.transport.local
        request.add("Via", f"SIP/2.0/{call.agent.transport.name} {host}:{port};branch={new_branch()};rport")
        for route in call.route_set or [_route_to(call.peer)]:
            request.add("Route", route)
        request.add("From", call.invite["From"])
        request.add("To", remote)
        request.add("Call-ID", call.invite.call_id)
        request.add("CSeq", f"{number} {method}")
        request.add("Max-Forwards", "70")
        return request

    def _cancel(self, call: Call) -> Request:
        """§9.1: the INVITE's Request-URI, Via (branch), Call-ID, From, To and CSeq number."""
        cancel = Request(method="CANCEL", uri=call.invite.uri)
        for name in ("Via", "Route", "From", "To", "Call-ID", "Max-Forwards"):
            for value in call.invite.get_all(name):
                cancel.add(name, value)
        cancel.add("CSeq", f"{call.invite.cseq[0]} CANCEL")
        return cancel

    # From the browser ----------------------------------------------------------------------

    async def control(self, event: dict[str, Any]) -> None:
        """answer / decline / hangup from the holder's browser; others' calls are not theirs to touch."""
        call = self.calls.get(str(event.get("call")))
        if call is None or call.holder_group != event.get("holder"):
            return
        action = event.get("action")
        if action == "answer" and call.state == "ringing" and call.transaction is not None:
            if call.timer is not None:
                call.timer.cancel()
            try:
                call.answer_sdp = await self.media.toward_ims(call.media_call, str(event.get("sdp", "")))
            except MediaRefused as refused:
                self._refuse(call, refused)
                return
            call.transaction.respond(self._response(call, 200, "OK", sdp=call.answer_sdp))
            self._tell(call, "answered")
            self._await_ack(call)
        elif action in ("decline", "hangup") and not call.outgoing and call.state == "ringing":
            assert call.transaction is not None
            call.transaction.respond(self._response(call, 603, "Decline"))
            self._end(call, "declined")
        elif action == "hangup" and call.outgoing and call.state in ("calling", "ringing"):
            await self._give_up(call, "cancelled")
        elif action == "hangup" and call.state in ("answered", "connected"):
            await self._hang_up(call, str(event.get("reason") or "hung up"))
        elif action == "update" and call.state in ("answered", "connected"):
            await self._reoffer(call, str(event.get("sdp", "")))
        elif action == "update_answer" and call.reoffered is not None:
            request, transaction = call.reoffered
            call.reoffered = None
            try:
                call.answer_sdp = await self.media.toward_ims(call.media_call, str(event.get("sdp", "")))
            except MediaRefused as refused:
                transaction.respond(call.agent.response(request, 503, str(refused)[:100], to_tag=call.local_tag))
                return
            transaction.respond(self._response_to(call, request, call.answer_sdp))

    async def _reoffer(self, call: Call, sdp: str) -> None:
        """The browser's new offer in a re-INVITE; its answer (or refusal) goes back to the browser."""
        if call.reoffer is not None or call.reoffered is not None:
            self._tell(call, "update_failed", status=491, reason="Request Pending")
            return
        call.cseq += 1
        invite = self._dialog_request(call, "INVITE")
        invite.add("Contact", call.contact)
        invite.add("Content-Type", "application/sdp")
        try:
            invite.body = (await self.media.toward_ims(call.media_call, sdp)).encode()
        except MediaRefused as refused:
            self._tell(call, "update_failed", status=503, reason=str(refused))
            return
        call.reoffer = invite
        try:
            response = await self._send(call, invite)
        finally:
            call.reoffer = None
        if not 200 <= response.status < 300:
            self._tell(call, "update_failed", status=response.status, reason=response.reason)
            return
        call.agent.send_soon(self._dialog_request(call, "ACK", number=call.cseq).to_bytes(), call.peer, None)
        call.remote_sdp = response.body.decode("utf-8", errors="replace")
        try:
            self._tell(call, "updated", sdp=await self.media.toward_browser(call.media_call, call.remote_sdp))
        except MediaRefused as refused:
            self._tell(call, "update_failed", status=503, reason=str(refused))

    def _dialog_request(self, call: Call, method: str, number: int | None = None) -> Request:
        """A request inside the call's dialog, From and To as this side sees them (§12.2.1.1)."""
        if not call.outgoing and not call.remote_target:  # the dialog as the callee sees it (§12.1.1)
            call.remote_target = NameAddr.parse(call.invite.get("Contact") or call.invite["From"]).uri
            call.route_set = call.invite.get_all("Record-Route")
        if call.outgoing:
            return self._in_dialog(call, method, f"<{call.remote_uri}>;tag={call.remote_tag}", number or call.cseq)
        request = self._in_dialog(call, method, call.invite["From"], number or call.cseq)
        request.set("From", f"{call.invite['To']};tag={call.local_tag}")
        return request

    async def _hang_up(self, call: Call, reason: str = "hung up") -> None:
        """BYE inside the dialog."""
        call.cseq += 1
        bye = self._dialog_request(call, "BYE")
        if reason in release.MEDIA_FAILURES:
            bye.add("Reason", release.reason_header(reason))
        self._end(call, reason)
        await self._send(call, bye)

    async def _send(self, call: Call, request: Request) -> Response:
        """An in-dialog request (built by _in_dialog), a challenge answered with the identity's
        credentials; the dialog's CSeq follows the request sent again."""
        return await challenges.request(
            call.agent, request, call.peer, call.credentials, new_via=False,
            resending=lambda again: self._resent(call, again),
        )  # fmt: skip

    def _resent(self, call: Call, request: Request) -> bool:
        call.cseq = max(call.cseq, request.cseq[0])
        return True
