"""Client and server transactions (RFC 3261 §17) with their timers and UDP retransmissions."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sip.headers import MAGIC_COOKIE, NameAddr, Via
from sip.message import Request, Response
from sip.transport import Peer

if TYPE_CHECKING:
    from sip.ua import UserAgent


@dataclass(frozen=True)
class Timers:
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def timeout(self) -> float:  # Timer B, F, H, J: 64·T1
        return 64 * self.t1


# The branch of a Via, found without parsing the rest of it: a response's only use of its Via here.
_BRANCH = re.compile(r";\s*branch\s*=\s*([^;,\s]+)", re.IGNORECASE)


def client_key(message: Request | Response) -> tuple[str, str]:
    """The branch of the top Via and the CSeq method (§17.1.3); an empty branch matches nothing."""
    via = message.get("Via") or ""
    branch = _BRANCH.search(via)
    return branch[1] if branch else "", (message.get("CSeq") or "").partition(" ")[2].strip()


def server_key(request: Request) -> tuple[str, str, str]:
    """§17.2.3: the top Via's branch where it has the magic cookie; else, from an RFC 2543 peer,
    what its requests of one transaction share (RFC 4475 §3.4.1): the branch if any, Call-ID,
    CSeq number and From tag (not the To tag, which the ACK of a non-2xx adds)."""
    via = Via.parse(request.get_all("Via")[0])
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch or ""
    if not branch.startswith(MAGIC_COOKIE):
        from_tag = NameAddr.parse(request["From"]).tag or ""
        branch = f"{branch} {request.call_id} {request.cseq[0]} {from_tag}"
    return branch, f"{via.host}:{via.port}", method


# A timer may fire this much before its time (the loop's clock resolution and rounding).
TIMER_SLACK = 0.001


def timeout_response(request: Request, status: int = 408, reason: str = "Request Timeout") -> Response:
    """The response a transaction gives its user when the peer never answered."""
    response = Response(status=status, reason=reason, local=True)
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for value in request.get_all(name):
            response.add(name, value)
    return response


class ClientTransaction:
    """One timer at a time: the next retransmission, the last one cut short at the deadline
    (Timer B / F), so that a transaction costs the event loop's timer heap one entry, not three."""

    def __init__(self, ua: UserAgent, request: Request, peer: Peer, provisional: Callable[[Response], None] | None):
        self.ua, self.request, self.peer = ua, request, peer
        self.provisional = provisional
        self.result: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.data = request.to_bytes()
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self.key = client_key(request)
        self.state = "calling"  # an INVITE's: then proceeding once it rang, cancelling once cancelled

    def start(self) -> None:
        timers, loop = self.ua.timers, asyncio.get_running_loop()
        self._deadline = loop.time() + timers.timeout
        first = timers.timeout if self.ua.transport.reliable else timers.t1
        self._timer = loop.call_later(first, self._tick, timers.t1)
        self.ua.send_soon(self.data, self.peer, self._failed)

    def _tick(self, interval: float) -> None:
        if self.result.done():
            return
        loop = asyncio.get_running_loop()
        left = self._deadline - loop.time()
        if left <= TIMER_SLACK or self.ua.transport.reliable:  # a reliable transport never resends
            self._finish(timeout_response(self.request))
            return
        self.ua.send_soon(self.data, self.peer, self._failed)
        # INVITE doubles without bound (Timer A); others cap at T2 (Timer E).
        following = interval * 2 if self.request.method == "INVITE" else min(interval * 2, self.ua.timers.t2)
        self._timer = loop.call_later(min(following, left), self._tick, following)

    def _failed(self, error: Exception) -> None:
        self._finish(timeout_response(self.request, 503, f"Service Unavailable ({error})"))

    def received(self, response: Response) -> None:
        if response.status < 200:
            if self.request.method == "INVITE" and self.state == "calling" and self._timer is not None:
                # Proceeding (§17.1.1.2): no more resends, and no Timer B: a phone may ring
                # longer than 64·T1. The caller ends the wait with CANCEL (see cancelled).
                self._timer.cancel()
                self._timer = None
                self.state = "proceeding"
            if self.provisional is not None:
                self.provisional(response)
            return
        if self.request.method == "INVITE" and response.status >= 300:
            self.ua.send_soon(self.ua.ack_for(self.request, response).to_bytes(), self.peer, None)
        self._finish(response)

    def cancelled(self) -> None:
        """A CANCEL went out for this INVITE: its final answer (487) is due within 64·T1, else
        the transaction ends as timed out (§9.1)."""
        if self.result.done():
            return
        if self._timer is not None:
            self._timer.cancel()
        self.state = "cancelling"  # a provisional arriving late must not stop this timer
        timeout = timeout_response(self.request)
        self._timer = asyncio.get_running_loop().call_later(self.ua.timers.timeout, self._finish, timeout)

    def _finish(self, response: Response) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self.result.done():
            self.result.set_result(response)
        # Linger to absorb retransmitted final responses (Timer K / D), then go.
        self.ua.forget_client_transaction(self.key, 0.0 if self.ua.transport.reliable else self.ua.timers.t4)


class ServerTransaction:
    def __init__(self, ua: UserAgent, request: Request, peer: Peer) -> None:
        self.ua, self.request, self.peer = ua, request, peer
        self.key = server_key(request)
        self.last: bytes | None = None
        self.last_to: str | None = None  # the To (with our tag) of the last response sent
        self.final = False
        self._timers: list[asyncio.TimerHandle] = []

    def respond(self, response: Response) -> None:
        if self.final:
            return
        self.last = response.to_bytes()
        self.last_to = response.get("To")
        self.ua.send_soon(self.last, self.peer, None)
        if response.status < 200:
            return
        self.final = True
        loop, timers = asyncio.get_running_loop(), self.ua.timers
        if self.request.method == "INVITE" and not self.ua.transport.reliable:
            self._timers.append(loop.call_later(timers.t1, self._retransmit, timers.t1))  # Timer G
        linger = timers.timeout if not self.ua.transport.reliable else 0.0
        self._timers.append(loop.call_later(linger, self._end))

    def _retransmit(self, interval: float) -> None:
        if self.last is not None:
            self.ua.send_soon(self.last, self.peer, None)
        following = min(interval * 2, self.ua.timers.t2)
        self._timers.append(asyncio.get_running_loop().call_later(following, self._retransmit, following))

    def retransmitted(self, request: Request) -> None:
        """The same request again, or the ACK of our final answer to an INVITE."""
        if request.method == "ACK":
            self._end()
        elif self.last is not None:
            self.ua.send_soon(self.last, self.peer, None)

    def _end(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self.ua.server_transactions.pop(self.key, None)
