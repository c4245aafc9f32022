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
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer

from ims.media import MediaPolicy, configured
from sip.headers import NameAddr, new_branch, new_tag
from sip.message import Request, Response
from sip.transaction import ServerTransaction, client_key
from sip.transport import Peer
from sip.ua import UserAgent

log = logging.getLogger(__name__)

RING_SECONDS = 60.0


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
    answer_sdp: str = ""
    transaction: ServerTransaction | None = None  # incoming calls: the INVITE's
    remote_target: str = ""
    route_set: list[str] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    ending: str = ""  # why the caller gave up, once it sent CANCEL

    @property
    def local_uri(self) -> str:
        return NameAddr.parse(self.invite["From" if self.outgoing else "To"]).uri

    @property
    def remote_uri(self) -> str:
        return NameAddr.parse(self.invite["To" if self.outgoing else "From"]).uri


def _contact(agent: UserAgent, identity: str) -> str:
    return f"<{agent.contact_for(identity)}>"


class CallDesk:
    def __init__(self, ring_seconds: float = RING_SECONDS, media: MediaPolicy | None = None) -> None:
        self.calls: dict[str, Call] = {}
        self.ring_seconds = ring_seconds
        self.media = media or configured()
        self._sending: set[asyncio.Task[None]] = set()

    def _tell(self, call: Call, state: str, **extra: Any) -> None:
        """To every browser of the holder, from this loop (never another: the demo's layer is in memory)."""
        call.state = state
        event: dict[str, Any] = {"type": "ims.call", "call": call.key, "state": state}
        event.update(
            direction="out" if call.outgoing else "in", caller=call.local_uri if call.outgoing else call.remote_uri
        )
        event.update(callee=call.remote_uri if call.outgoing else call.local_uri, **extra)
        layer = get_channel_layer()
        if layer is not None:
            self._spawn(layer.group_send(call.holder_group, event))

    def _end(self, call: Call, reason: str) -> None:
        if call.timer is not None:
            call.timer.cancel()
        if self.calls.pop(call.key, None) is not None:
            self._tell(call, "ended", reason=reason)
            self._spawn(self.media.ended(call.key))

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
        self, key: str, agent: UserAgent, invite: Request, transaction: ServerTransaction, group: str
    ) -> Call:
        called = NameAddr.parse(invite["To"]).uri
        call = Call(key, group, agent, invite, transaction.peer, _contact(agent, called), False, new_tag())
        call.transaction = transaction
        self.calls[key] = call
        transaction.respond(self._response(call, 180, "Ringing"))
        call.timer = asyncio.get_running_loop().call_later(self.ring_seconds, self._no_answer, key)
        offer = await self.media.toward_browser(key, invite.body.decode("utf-8", errors="replace"))
        self._tell(call, "ringing", sdp=offer)
        return call

    def _response(self, call: Call, status: int, reason: str, sdp: str = "") -> Response:
        response = call.agent.response(call.invite, status, reason, to_tag=call.local_tag)
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
            self._tell(call, "connected")

    def refresh(self, request: Request, transaction: ServerTransaction) -> bool:
        """A re-INVITE in a call: answered with the session we already agreed (a session refresh)."""
        call = self._find(request)
        if call is None or call.state not in ("answered", "connected"):
            return False
        response = call.agent.response(request, 200, "OK", to_tag=call.local_tag)
        response.add("Contact", call.contact)
        response.add("Content-Type", "application/sdp")
        response.body = call.answer_sdp.encode()
        transaction.respond(response)
        return True

    def bye(self, request: Request, transaction: ServerTransaction) -> bool:
        call = self._find(request)
        if call is None:
            return False
        transaction.respond(call.agent.response(request, 200, "OK"))
        self._end(call, "the other side hung up")
        return True

    # Outgoing ------------------------------------------------------------------------------

    async def place(
        self, key: str, group: str, agent: UserAgent, peer: Peer, identity: str, to: str, sdp: str,
        service_route: list[str],
    ) -> None:  # fmt: skip
        invite = agent.new_request("INVITE", to, from_uri=identity, to_uri=to)
        for route in service_route:
            invite.add("Route", route)
        call = Call(
            key, group, agent, invite, peer, _contact(agent, identity), True, NameAddr.parse(invite["From"]).tag or ""
        )
        invite.add("Contact", call.contact)
        invite.add("Content-Type", "application/sdp")
        invite.body = (await self.media.toward_ims(key, sdp)).encode()
        self.calls[key] = call
        self._tell(call, "calling")
        call.timer = asyncio.get_running_loop().call_later(self.ring_seconds, self._ring_out, key)
        response = await agent.request(invite, peer, lambda early: self._early(call, early))
        if call.timer is not None:
            call.timer.cancel()
        if 200 <= response.status < 300 and key in self.calls:
            answer = await self.media.toward_browser(key, response.body.decode("utf-8", errors="replace"))
            self._confirm(call, response, answer)
        elif response.status >= 300:
            fallback = "cancelled" if response.status == 487 else f"{response.status} {response.reason}"
            self._end(call, call.ending or fallback)

    def _early(self, call: Call, response: Response) -> None:
        if response.status > 100 and call.state == "calling":
            sdp = response.body.decode("utf-8", errors="replace") if response.body else ""
            self._tell(call, "ringing", **({"sdp": sdp} if sdp else {}))

    def _confirm(self, call: Call, response: Response, answer: str) -> None:
        """ACK the 2xx (a request of its own, §13.2.2.4) and remember the dialog."""
        call.remote_tag = NameAddr.parse(response["To"]).tag
        call.remote_target = NameAddr.parse(response.get("Contact") or call.invite.uri).uri
        call.route_set = list(reversed(response.get_all("Record-Route")))
        ack = self._in_dialog(call, "ACK", response["To"], number=call.cseq)
        call.agent.send_soon(ack.to_bytes(), call.peer, None)
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
        request = Request(method=method, uri=call.remote_target)
        host, port = call.agent.transport.local
        request.add("Via", f"SIP/2.0/{call.agent.transport.name} {host}:{port};branch={new_branch()};rport")
        for route in call.route_set:
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
            call.answer_sdp = await self.media.toward_ims(call.key, str(event.get("sdp", "")))
            call.transaction.respond(self._response(call, 200, "OK", sdp=call.answer_sdp))
            self._tell(call, "answered")
        elif action in ("decline", "hangup") and not call.outgoing and call.state == "ringing":
            assert call.transaction is not None
            call.transaction.respond(self._response(call, 603, "Decline"))
            self._end(call, "declined")
        elif action == "hangup" and call.outgoing and call.state in ("calling", "ringing"):
            await self._give_up(call, "cancelled")
        elif action == "hangup" and call.state in ("answered", "connected"):
            await self._hang_up(call)

    async def _hang_up(self, call: Call) -> None:
        """BYE inside the dialog."""
        if not call.outgoing:  # the dialog as the callee sees it (§12.1.1)
            call.remote_target = NameAddr.parse(call.invite.get("Contact") or call.invite["From"]).uri
            call.route_set = call.invite.get_all("Record-Route")
        call.cseq += 1
        if call.outgoing:
            remote = f"<{call.remote_uri}>;tag={call.remote_tag}"
            bye = self._in_dialog(call, "BYE", remote, call.cseq)
        else:
            bye = self._in_dialog(call, "BYE", call.invite["From"], call.cseq)
            bye.set("From", f"{call.invite['To']};tag={call.local_tag}")
        self._end(call, "hung up")
        await call.agent.request(bye, call.peer, new_via=False)
