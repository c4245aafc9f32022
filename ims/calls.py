"""Incoming calls to assigned identities (RFC 3261 §13-15): the holder's browsers ring; one answers,
declines or hangs up through the channel layer. The SDP passes through unchanged here; the per-call
media policy (pass-through or conversion by the media gateway) plugs in where it is read."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer

from ims.sip.headers import NameAddr, new_tag
from ims.sip.message import Request, Response
from ims.sip.transaction import ServerTransaction
from ims.sip.ua import UserAgent

log = logging.getLogger(__name__)

RING_SECONDS = 60.0


@dataclass
class Call:
    key: str
    holder_group: str
    agent: UserAgent
    invite: Request
    transaction: ServerTransaction
    local_tag: str
    contact: str
    state: str = "ringing"
    cseq: int = 1
    answer_sdp: str = ""
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    @property
    def caller(self) -> str:
        return NameAddr.parse(self.invite["From"]).uri

    @property
    def called(self) -> str:
        return NameAddr.parse(self.invite["To"]).uri


class CallDesk:
    def __init__(self, ring_seconds: float = RING_SECONDS) -> None:
        self.calls: dict[str, Call] = {}
        self.ring_seconds = ring_seconds
        self._sending: set[asyncio.Task[None]] = set()

    def _tell(self, call: Call, state: str, **extra: Any) -> None:
        """To every browser of the holder, from this loop (never another: the demo's layer is in memory)."""
        call.state = state
        event = {"type": "ims.call", "call": call.key, "state": state, "from": call.caller, "to": call.called, **extra}
        layer = get_channel_layer()
        if layer is not None:
            task = asyncio.get_running_loop().create_task(layer.group_send(call.holder_group, event))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    def ring(self, agent: UserAgent, invite: Request, transaction: ServerTransaction, holder_group: str) -> Call:
        host, port = agent.transport.local
        user = NameAddr.parse(invite["To"]).uri.split(":", 1)[1].split("@", 1)[0]
        call = Call(
            uuid.uuid4().hex, holder_group, agent, invite, transaction, new_tag(), f"<sip:{user}@{host}:{port}>"
        )
        self.calls[call.key] = call
        transaction.respond(self._response(call, 180, "Ringing"))
        call.timer = asyncio.get_running_loop().call_later(self.ring_seconds, self._no_answer, call.key)
        self._tell(call, "ringing", sdp=invite.body.decode("utf-8", errors="replace"))
        return call

    def _response(self, call: Call, status: int, reason: str, sdp: str = "") -> Response:
        response = call.agent.response(call.invite, status, reason, to_tag=call.local_tag)
        if status < 300:
            response.add("Contact", call.contact)
        if sdp:
            response.add("Content-Type", "application/sdp")
            response.body = sdp.encode()
        return response

    def _end(self, call: Call, reason: str) -> None:
        if call.timer is not None:
            call.timer.cancel()
        self.calls.pop(call.key, None)
        self._tell(call, "ended", reason=reason)

    def _no_answer(self, key: str) -> None:
        call = self.calls.get(key)
        if call is not None and call.state == "ringing":
            call.transaction.respond(self._response(call, 480, "Temporarily Unavailable"))
            self._end(call, "no answer")

    def _find(self, request: Request) -> Call | None:
        for call in self.calls.values():
            if call.invite.call_id == request.call_id and NameAddr.parse(request["From"]).tag in (
                NameAddr.parse(call.invite["From"]).tag,
                call.local_tag,
            ):
                return call
        return None

    def cancelled(self, invite: Request) -> None:
        call = self._find(invite)
        if call is not None:
            self._end(call, "cancelled by the caller")

    def acknowledged(self, ack: Request) -> None:
        call = self._find(ack)
        if call is not None and call.state == "answered":
            self._tell(call, "connected")

    def bye(self, request: Request, transaction: ServerTransaction) -> bool:
        call = self._find(request)
        if call is None:
            return False
        transaction.respond(call.agent.response(request, 200, "OK"))
        self._end(call, "the other side hung up")
        return True

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

    async def control(self, event: dict[str, Any]) -> None:
        """answer / decline / hangup from the holder's browser; others' calls are not theirs to touch."""
        call = self.calls.get(str(event.get("call")))
        if call is None or call.holder_group != event.get("holder"):
            return
        action = event.get("action")
        if action == "answer" and call.state == "ringing":
            if call.timer is not None:
                call.timer.cancel()
            call.answer_sdp = str(event.get("sdp", ""))
            call.transaction.respond(self._response(call, 200, "OK", sdp=call.answer_sdp))
            self._tell(call, "answered")
        elif action == "decline" and call.state == "ringing":
            call.transaction.respond(self._response(call, 603, "Decline"))
            self._end(call, "declined")
        elif action == "hangup" and call.state in ("answered", "connected"):
            await self._hang_up(call)

    async def _hang_up(self, call: Call) -> None:
        """BYE inside the dialog: to the caller's Contact, through the route set it recorded."""
        invite = call.invite
        target = NameAddr.parse(invite.get("Contact") or invite["From"]).uri
        bye = Request(method="BYE", uri=target)
        for route in invite.get_all("Record-Route"):
            bye.add("Route", route)
        bye.add("From", f"{invite['To']};tag={call.local_tag}" if "tag=" not in invite["To"] else invite["To"])
        bye.add("To", invite["From"])
        bye.add("Call-ID", invite.call_id)
        call.cseq += 1
        bye.add("CSeq", f"{call.cseq} BYE")
        self._end(call, "hung up")
        await call.agent.request(bye, call.transaction.peer)
