"""A development stand-in for the operator's IMS core: a registrar and proxy on loopback.

It lets `make run` work without an operator. It checks Digest answers against the blocks' stored
hashes, keeps bindings in memory and relays requests to the bound contact, transaction-statefully.
It is not an IMS core (no HSS, no S-CSCF, no charging) and never runs with an operator configured;
the tests of the IMS side run against Kamailio.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sip.digest import Answer, AuthError, expected_response
from sip.headers import NameAddr
from sip.message import Request, Response
from sip.transaction import ServerTransaction
from sip.transport import Peer, StreamTransport, UdpTransport
from sip.ua import UserAgent

log = logging.getLogger(__name__)

NONCE_LIFETIME = 300
MAX_EXPIRES = 3600

Ha1Lookup = Callable[[str, str], Awaitable[dict[str, str] | None]]
TokenCheck = Callable[[str], str | None]


@dataclass
class Binding:
    contact: str
    peer: Peer
    expires_at: float


def aor(uri: str) -> str:
    """sip:user@host;params -> sip:user@host, the key of the location table."""
    return NameAddr.parse(uri).uri.split(";", 1)[0].split("?", 1)[0].lower()


class StandInCore:
    def __init__(self, ha1_lookup: Ha1Lookup, token_identity: TokenCheck | None = None) -> None:
        self.ha1_lookup = ha1_lookup
        self.token_identity = token_identity
        self.secret = secrets.token_bytes(16)
        self.location: dict[str, Binding] = {}
        self.ua: UserAgent | None = None
        self.stream_ua: UserAgent | None = None

    async def start(self, host: str, port: int) -> StandInCore:
        self.ua = UserAgent(await UdpTransport().start(host, port), self.handle)
        self.ua.on_ack = self._forward_ack
        # TCP on the same port, as a core listens: a request too large for UDP comes that way.
        self.stream_ua = UserAgent(await StreamTransport().listen(host, self.ua.transport.local[1]), self.handle)
        self.stream_ua.on_ack = self._forward_ack
        log.info("stand-in IMS core (development only) on udp and tcp:%s:%s", *self.ua.transport.local)
        return self

    def close(self) -> None:
        for ua in (self.ua, self.stream_ua):
            if ua is not None:
                ua.close()

    # Nonces carry their own time and a MAC, so no state is kept per challenge.
    def _nonce(self) -> str:
        stamp = str(int(time.time()))
        return stamp + "." + hmac.new(self.secret, stamp.encode(), hashlib.sha256).hexdigest()[:24]

    def _nonce_state(self, nonce: str) -> str:
        stamp, _, mac = nonce.partition(".")
        good = hmac.new(self.secret, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        if not stamp.isdigit() or not hmac.compare_digest(mac, good):
            return "bad"
        return "stale" if time.time() - int(stamp) > NONCE_LIFETIME else "fresh"

    async def handle(self, request: Request, transaction: ServerTransaction) -> None:
        assert self.ua is not None
        if request.method == "REGISTER":
            transaction.respond(await self._register(request, transaction.peer))
        else:
            transaction.respond(await self._relay(request, transaction))

    async def _register(self, request: Request, peer: Peer) -> Response:
        assert self.ua is not None
        stale = False
        header = request.get("Authorization")
        if header and header.startswith("Bearer ") and self.token_identity is not None:
            # RFC 8898: a token the portal issued for exactly this identity.
            if (self.token_identity(header[7:].strip()) or "").lower() == aor(request["To"]):
                return self._bind(request, peer)
        elif header:
            try:
                answer = Answer.parse(header)
                state = self._nonce_state(answer.nonce)
                stale = state == "stale"
                if state == "fresh" and await self._valid(answer):
                    return self._bind(request, peer)
            except AuthError as error:
                log.info("stand-in refused an answer: %s", error)
        return self._challenge(request, stale)

    async def _valid(self, answer: Answer) -> bool:
        hashes = await self.ha1_lookup(answer.username, answer.realm)
        base = answer.algorithm.removesuffix("-SESS")
        if not hashes or base not in hashes:
            return False
        return hmac.compare_digest(expected_response(answer, hashes[base], "REGISTER"), answer.response)

    def _challenge(self, request: Request, stale: bool) -> Response:
        assert self.ua is not None
        response = self.ua.response(request, 401, "Unauthorized")
        realm = aor(request.uri).rpartition(":")[2]  # the registrar's domain: the operator's home domain
        for algorithm in ("SHA-256", "MD5"):
            extra = ", stale=TRUE" if stale else ""
            value = f'Digest realm="{realm}", nonce="{self._nonce()}", qop="auth", algorithm={algorithm}{extra}'
            response.add("WWW-Authenticate", value)
        return response

    def _bind(self, request: Request, peer: Peer) -> Response:
        assert self.ua is not None
        key = aor(request["To"])
        contacts = request.get_all("Contact")
        expires_header = request.get("Expires", "3600") or "3600"
        response = self.ua.response(request, 200, "OK")
        for value in contacts:
            contact = NameAddr.parse(value)
            expires = min(int(str(contact.params.get("expires") or expires_header)), MAX_EXPIRES)
            if expires == 0:
                self.location.pop(key, None)
                continue
            self.location[key] = Binding(contact.uri, peer, time.monotonic() + expires)
            response.add("Contact", f"<{contact.uri}>;expires={expires}")
        return response

    async def _relay(self, request: Request, transaction: ServerTransaction) -> Response:
        """Forward to the binding of the Request-URI; relay its provisional and final answers."""
        assert self.ua is not None
        binding = self.location.get(aor(request.uri)) or self._bound_at(request.uri)
        if binding is None or binding.expires_at < time.monotonic():
            return self.ua.response(request, 404 if binding is None else 480, "Not Found")
        # Routes naming this proxy are its own to remove (loose routing, RFC 3261 §16.4).
        headers = [(name, value) for name, value in request.headers if not self._routes_here(name, value)]
        forwarded = Request(method=request.method, uri=binding.contact, headers=headers, body=request.body)
        self._assert_identity(forwarded, transaction.peer)
        forwards = int(request.get("Max-Forwards", "70") or "70")
        if forwards <= 0:
            return self.ua.response(request, 483, "Too Many Hops")
        forwarded.set("Max-Forwards", str(forwards - 1))
        answer = await self.ua.request(
            forwarded, binding.peer, lambda early: transaction.respond(self._upstream(early))
        )
        return self._upstream(answer)

    def _assert_identity(self, request: Request, peer: Peer) -> None:
        """As a P-CSCF does (RFC 3325, TS 24.229 §5.2.6.3): a sender's own assertion is removed, and
        the From identity asserted where the request comes from the address that identity registered from."""
        request.remove("P-Asserted-Identity")
        sender = aor(request["From"])
        binding = self.location.get(sender)
        # The registered address, over any transport: a request too large for UDP comes over TCP.
        if binding is not None and binding.peer.host == peer.host and binding.expires_at >= time.monotonic():
            request.add("P-Asserted-Identity", f"<{sender}>")

    def _forward_ack(self, ack: Request) -> None:
        """The ACK of a 2xx is a transaction of its own, with no answer (§17.1.1.3): passed on to
        the far end as it came, so that the callee knows its answer arrived."""
        assert self.ua is not None
        binding = self.location.get(aor(ack.uri)) or self._bound_at(ack.uri)
        if binding is None:
            return
        headers = [(name, value) for name, value in ack.headers if not self._routes_here(name, value)]
        forwarded = Request(method="ACK", uri=binding.contact, headers=headers, body=ack.body)
        self.ua.send_soon(forwarded.to_bytes(), binding.peer, None)

    def _bound_at(self, uri: str) -> Binding | None:
        """An in-dialog request is sent to the far end's contact, not its identity."""
        wanted = aor(uri)
        return next((b for b in self.location.values() if aor(b.contact) == wanted), None)

    def _routes_here(self, name: str, value: str) -> bool:
        if name.lower() != "route" or self.ua is None:
            return False
        host, port = self.ua.transport.local
        return f"@{host}:{port}" in value or f"sip:{host}:{port}" in value

    def _upstream(self, answer: Response) -> Response:
        """The answer as the previous hop must see it: without the Via of our own hop."""
        relayed = Response(status=answer.status, reason=answer.reason, headers=list(answer.headers), body=answer.body)
        vias = relayed.get_all("Via")
        if vias:
            relayed.headers.remove(("Via", vias[0]))
        return relayed
