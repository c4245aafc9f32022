"""A SIP user agent core: builds requests, runs transactions, answers what arrives (RFC 3261 §8)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any

from sip.headers import NameAddr, Via, new_branch, new_tag
from sip.junk import JunkLog
from sip.message import Refusal, Request, Response, SipParseError, check_request, check_response, split_list
from sip.transaction import (
    TIMER_SLACK,
    ClientTransaction,
    ServerTransaction,
    Timers,
    client_key,
    server_key,
)
from sip.transport import Peer, Transport

log = logging.getLogger(__name__)

Handler = Callable[[Request, ServerTransaction], Awaitable[None]]
DialogHook = Callable[[Request], None]
Trust = Callable[[Peer], bool]
SERVER = "webrtc-ims-portal"
# The Request-URI schemes a user agent serves; any other is answered 416 (§8.2.2.1).
SCHEMES = frozenset({"sip", "sips", "tel"})


class UserAgent:
    def __init__(
        self, transport: Transport, handler: Handler | None = None, timers: Timers | None = None, *,
        trusted: Trust | None = None, supported: frozenset[str] = frozenset(),
    ) -> None:  # fmt: skip
        self.transport = transport
        transport.received, transport.malformed = self._received, self._malformed
        self.handler = handler
        self.timers = timers or Timers()
        # Whom requests are taken from: anyone, or (the IMS side) only its proxies; others get a 403.
        self.trusted = trusted
        self.supported = supported  # option tags a request may Require (§8.2.2.3); others get a 420
        self.junk = JunkLog()
        self.client_transactions: dict[tuple[str, str], ClientTransaction] = {}
        # Finished client transactions in the order they are to go: they all linger alike (T4).
        self._lingering: deque[tuple[float, tuple[str, str]]] = deque()
        self.server_transactions: dict[tuple[str, str, str], ServerTransaction] = {}
        self.stats: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Told when a pending INVITE is cancelled, and when the ACK of a 2xx arrives.
        self.on_cancel: DialogHook | None = None
        self.on_ack: DialogHook | None = None

    # Sending ---------------------------------------------------------------------------

    def send_soon(self, data: bytes, peer: Peer, failed: Callable[[Exception], None] | None) -> None:
        # Datagrams go at once; a task per message would cost more than the send.
        if self.transport.send_now(data, peer):
            return
        task = asyncio.ensure_future(self.transport.send(data, peer))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._sent(done, failed))

    def _sent(self, task: asyncio.Future[None], failed: Callable[[Exception], None] | None) -> None:
        self._tasks.discard(task)  # type: ignore[arg-type]
        error = None if task.cancelled() else task.exception()
        if isinstance(error, Exception):
            log.info("send failed: %s", error)
            if failed is not None:
                failed(error)

    async def request(
        self, request: Request, peer: Peer, provisional: Callable[[Response], None] | None = None, *,
        new_via: bool = True,
    ) -> Response:  # fmt: skip
        """Send in a new client transaction; the final response, or a 408/503 made up on failure.
        `new_via=False` keeps the request's own Via: a CANCEL reuses its INVITE's branch (§9.1)."""
        if new_via:
            with contextlib.suppress(Exception):  # a flow that cannot open fails when sent, as a 503
                await self.transport.connect(peer)  # so that Via names the flow's own port, not 0
            host, port = self.transport.local
            via = f"SIP/2.0/{self.transport.name} {host}:{port};branch={new_branch()};rport"
            request.add("Via", via, first=True)
        if "Max-Forwards" not in request:
            request.add("Max-Forwards", "70")
        transaction = ClientTransaction(self, request, peer, provisional)
        self.client_transactions[transaction.key] = transaction
        transaction.start()
        return await transaction.result

    def forget_client_transaction(self, key: tuple[str, str], after: float) -> None:
        """Drop a finished client transaction `after` seconds from now, with one timer for all."""
        if after <= 0:
            self.client_transactions.pop(key, None)
            return
        loop = asyncio.get_running_loop()
        if not self._lingering:
            loop.call_later(after, self._forget_due)
        self._lingering.append((loop.time() + after, key))

    def _forget_due(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._lingering and self._lingering[0][0] <= now + TIMER_SLACK:
            self.client_transactions.pop(self._lingering.popleft()[1], None)
        if self._lingering:
            loop.call_later(self._lingering[0][0] - now, self._forget_due)

    def new_request(
        self, method: str, uri: str, *, from_uri: str, to_uri: str, call_id: str | None = None, cseq: int = 1,
        from_tag: str | None = None, to_tag: str | None = None,
    ) -> Request:  # fmt: skip
        request = Request(method=method, uri=uri)
        request.add("From", str(NameAddr(from_uri, params={"tag": from_tag or new_tag()})))
        request.add("To", str(NameAddr(to_uri, params={"tag": to_tag} if to_tag else {})))
        request.add("Call-ID", call_id or secrets.token_hex(12))
        request.add("CSeq", f"{cseq} {method}")
        return request

    def contact_for(self, identity: str) -> str:
        """Where this agent is reached for `identity`: its user part at our transport's address,
        with the transport named unless it is UDP, the default (RFC 3261 §19.1.1)."""
        host, port = self.transport.local
        user = identity.split(":", 1)[1].split("@", 1)[0]
        transport = "" if self.transport.name == "UDP" else f";transport={self.transport.name.lower()}"
        where = f"{host}:{port}" if port else host  # a flow not open yet has no port of its own to name
        return f"sip:{user}@{where}{transport}"

    def ack_for(self, invite: Request, response: Response) -> Request:
        """The ACK of a non-2xx final response: part of the INVITE's transaction (§17.1.1.3)."""
        ack = Request(method="ACK", uri=invite.uri)
        ack.add("Via", invite.get_all("Via")[0])
        for name in ("Max-Forwards", "Route", "From", "Call-ID"):
            for value in invite.get_all(name):
                ack.add(name, value)
        ack.add("To", response["To"])
        ack.add("CSeq", f"{invite.cseq[0]} ACK")
        return ack

    # Receiving -------------------------------------------------------------------------

    def trusts(self, peer: Peer) -> bool:
        return self.trusted is None or self.trusted(peer)

    def _received(self, message: Request | Response, peer: Peer) -> None:
        if isinstance(message, Response):
            self._response_received(message, peer)
        else:
            self._request_received(message, peer)

    def _response_received(self, response: Response, peer: Peer) -> None:
        try:
            check_response(response)
        except SipParseError as error:
            self._junk(peer, "malformed dropped", f"malformed response dropped ({error.reason})")
            return
        transaction = self.client_transactions.get(client_key(response))
        if not self.trusts(peer):
            self._junk(peer, "untrusted response dropped", f"{response.status} from an untrusted address")
        elif transaction is None:
            self.stats["stray responses"] += 1
        else:
            transaction.received(response)

    def _request_received(self, message: Request, peer: Peer) -> None:
        try:
            check_request(message)
        except SipParseError as error:
            self._malformed(error, peer)
            return
        if not self.trusts(peer):
            self._forbid(message, peer)
            return
        refusal = self._refusal(message)
        if refusal is not None:
            self._answer_refusal(refusal, peer)
            return
        self._note_source(message, peer)
        key = server_key(message)
        existing = self.server_transactions.get(key)
        if existing is not None:
            existing.retransmitted(message)
        elif message.method == "ACK":
            self._acknowledged(message)
        elif message.method == "CANCEL":
            self._cancel(ServerTransaction(self, message, peer))
        else:
            self._serve(ServerTransaction(self, message, peer))

    def _acknowledged(self, ack: Request) -> None:
        """The ACK of a 2xx is a new transaction (§17.1.1.3): match it to its INVITE by dialog."""
        number = ack.cseq[0]
        for transaction in list(self.server_transactions.values()):
            invite = transaction.request
            if invite.method == "INVITE" and invite.call_id == ack.call_id and invite.cseq[0] == number:
                transaction.retransmitted(ack)
        if self.on_ack is not None:
            self.on_ack(ack)

    def _cancel(self, cancel: ServerTransaction) -> None:
        """§9.2: 200 to the CANCEL, 487 to the INVITE it names if that is still unanswered."""
        branch, sent_by, _ = cancel.key
        invite = self.server_transactions.get((branch, sent_by, "INVITE"))
        self.server_transactions[cancel.key] = cancel
        if invite is None:
            cancel.respond(self.response(cancel.request, 481, "Call/Transaction Does Not Exist"))
            return
        cancel.respond(self.response(cancel.request, 200, "OK"))
        if not invite.final:
            to_tag = NameAddr.parse(invite.last_to or invite.request["To"]).tag
            invite.respond(self.response(invite.request, 487, "Request Terminated", to_tag=to_tag))
            if self.on_cancel is not None:
                self.on_cancel(invite.request)

    def _serve(self, transaction: ServerTransaction) -> None:
        self.server_transactions[transaction.key] = transaction
        if transaction.request.method == "INVITE":
            # §17.2.1: stops the previous hop retransmitting while the answer is looked up.
            transaction.respond(self.response(transaction.request, 100, "Trying"))
        if self.handler is None:
            response = self.response(transaction.request, 501, "Not Implemented")
            response.add("Allow", "ACK, CANCEL")
            transaction.respond(response)
            return
        task = asyncio.ensure_future(self._handle(transaction))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, transaction: ServerTransaction) -> None:
        assert self.handler is not None
        try:
            await self.handler(transaction.request, transaction)
        except Exception:
            log.exception("handling %s failed", transaction.request.method)
            transaction.respond(self.response(transaction.request, 500, "Server Internal Error"))
        # An INVITE may stay pending (ringing) after its handler returns; anything else may not.
        if not transaction.final and transaction.request.method != "INVITE":
            log.error("handler left %s unanswered", transaction.request.method)
            transaction.respond(self.response(transaction.request, 500, "Server Internal Error"))

    def _note_source(self, request: Request, peer: Peer) -> None:
        """RFC 3261 §18.2.1 and RFC 3581: record where the request really came from."""
        vias = request.get_all("Via")
        via = Via.parse(vias[0])
        if via.host != peer.host:
            via.params["received"] = peer.host
        if "rport" in via.params:
            via.params["rport"] = str(peer.port)
        request.headers[request.headers.index(("Via", vias[0]))] = ("Via", str(via))

    def _refusal(self, request: Request) -> Refusal | None:
        """What a well-formed request is refused for before its handler sees it: a Request-URI
        scheme not served (416) or an extension required and not supported (420, §8.2.2)."""
        scheme = request.uri.partition(":")[0].lower()
        if scheme not in SCHEMES:
            why = f"{scheme} URIs are not served"
            return Refusal(why, status=416, phrase="Unsupported URI Scheme", answerable=request)
        if request.method in ("ACK", "CANCEL"):  # §8.2.2.3: never refused for Require
            return None
        required = [tag for value in request.get_all("Require") for tag in split_list(value)]
        unsupported = [tag for tag in required if tag.lower() not in self.supported]
        if unsupported:
            headers = (("Unsupported", ", ".join(unsupported)),)
            return Refusal("extension not supported", status=420, phrase="Bad Extension", headers=headers,
                           answerable=request)  # fmt: skip
        return None

    def _forbid(self, request: Request, peer: Peer) -> None:
        """A request from outside the trusted peers: 403, and nothing else done with it."""
        self.stats["untrusted refused 403"] += 1
        self._junk(peer, "", f"{request.method} from an untrusted address refused")
        if request.method != "ACK":
            self.send_soon(self.response(request, 403, "Forbidden").to_bytes(), peer, None)

    def _malformed(self, error: SipParseError, peer: Peer) -> None:
        request = error.answerable
        if request is None or request.method == "ACK" or not request.get("Via") or not self.trusts(peer):
            self._junk(peer, "malformed dropped", f"malformed message dropped ({error.reason})")
            return
        self._junk(peer, "", f"malformed {request.method} answered {error.status} ({error.reason})")
        self._answer_refusal(error, peer)

    def _answer_refusal(self, refusal: Refusal, peer: Peer) -> None:
        """Statelessly (§8.2): the status, why in a Warning (§20.43), and the headers it must carry."""
        assert refusal.answerable is not None
        self.stats[f"refused {refusal.status}"] += 1
        response = self.response(refusal.answerable, refusal.status, refusal.phrase)
        response.add("Warning", f'399 {self.transport.local[0]} "{refusal.reason.replace(chr(34), chr(39))}"')
        for name, value in refusal.headers:
            response.add(name, value)
        self.send_soon(response.to_bytes(), peer, None)

    def _junk(self, peer: Peer, stat: str, what: str) -> None:
        if stat:
            self.stats[stat] += 1
        self.junk.note(peer.host, peer.port, what)

    def response(
        self, request: Request, status: int, reason: str, *, to_tag: str | None = None, body: bytes = b"",
        content_type: str | None = None,
    ) -> Response:  # fmt: skip
        """A response to `request` (§8.2.6): its Via, From, Call-ID, CSeq; To with our tag."""
        response = Response(status=status, reason=reason, body=body)
        for name in ("Via", "Record-Route", "From", "To", "Call-ID", "CSeq"):
            for value in request.get_all(name):
                response.add(name, value)
        to = request.get("To")
        if to is not None and status > 100 and "tag=" not in to:
            response.set("To", f"{to};tag={to_tag or new_tag()}")
        response.add("Server", SERVER)
        if content_type:
            response.add("Content-Type", content_type)
        return response

    def close(self) -> None:
        self.transport.close()
        for task in self._tasks:
            task.cancel()
