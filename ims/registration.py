"""Keeping one assigned identity registered with the IMS (RFC 3261 §10, RFC 3608, TS 24.229)."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sip.digest import AuthError, DigestCredentials, authorization, choose
from sip.headers import NameAddr, new_tag
from sip.message import Request, Response
from sip.transport import Peer
from sip.ua import UserAgent

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
# Registrations in flight at once per process: a burst of thousands overflows socket buffers
# (UDP) and the registrar's queues, and everything then waits on retransmission timers.
IN_FLIGHT = 64
TERMINAL = {403: "Forbidden", 404: "Not Found"}
# The reason given when the proxy did not answer at all (our own 408/503, or a keep-alive went
# unanswered): the binding may be gone with the core, and the identity registers again once it answers.
UNREACHABLE = "the core is unreachable"


@dataclass(frozen=True)
class IdentityConfig:
    """What the IMS side needs to register one assignment, read from its block and operator."""

    assignment_id: int
    impu: str
    registrar: str  # Request-URI of REGISTER: sip:<home domain>
    proxy: Peer
    instance_id: str
    credentials: DigestCredentials | None = None
    bearer_token: str | None = None
    expires: int = 3600
    proxy_uri: str = ""  # the outbound proxy's URI, which DNS turns into targets (RFC 3263); `proxy` is one


class RegistrationEvents(Protocol):
    async def registering(self, assignment_id: int) -> None: ...
    async def registered(self, assignment_id: int, until: datetime, service_route: list[str]) -> None: ...
    async def failed(self, assignment_id: int, reason: str) -> None: ...
    async def deregistered(self, assignment_id: int) -> None: ...


def refresh_delay(granted: int) -> float:
    """TS 24.229 §5.1.1.4.1: 600 s before expiry for registrations over 1200 s, else at half time."""
    return granted - 600 if granted > 1200 else granted / 2


_in_flight: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    return _in_flight.setdefault(loop, asyncio.Semaphore(IN_FLIGHT))


@dataclass
class Registration:
    ua: UserAgent
    config: IdentityConfig
    events: RegistrationEvents
    call_id: str = field(default_factory=lambda: secrets.token_hex(12))
    from_tag: str = field(default_factory=new_tag)
    cseq: int = 0
    service_route: list[str] = field(default_factory=list)
    registered_until: datetime | None = None
    failures: int = 0
    gave_up: bool = False  # refused for good (403, bad credentials): only a new configuration helps
    # Told the proxy when it did not answer a REGISTER at all, so another of the operator's may be tried.
    proxy_failed: Callable[[Peer], object] | None = None
    _timer: asyncio.TimerHandle | None = None
    _closing: bool = False
    # Each attempt is numbered; only the latest one's outcome counts. One sent over a flow that broke
    # is answered only by its timeout, 32 s on, after the one sent over the new flow has succeeded.
    _attempt: int = 0

    @property
    def contact_uri(self) -> str:
        return self.ua.contact_for(self.config.impu)

    def _request(self, expires: int) -> Request:
        self.cseq += 1
        impu = self.config.impu
        request = self.ua.new_request(
            "REGISTER", self.config.registrar, from_uri=impu, to_uri=impu, call_id=self.call_id,
            cseq=self.cseq, from_tag=self.from_tag,
        )  # fmt: skip
        contact = NameAddr(self.contact_uri, params={"+sip.instance": f'"{self.config.instance_id}"'})
        request.add("Contact", str(contact))
        request.add("Expires", str(expires))
        if self.config.bearer_token:
            request.add("Authorization", f"Bearer {self.config.bearer_token}")
        return request

    async def _exchange(self, expires: int) -> Response:
        """REGISTER, answering Digest challenges (a stale nonce may be answered again) and 423."""
        response = await self.ua.request(self._request(expires), self.config.proxy)
        for _ in range(3):
            if response.status == 423 and (minimum := response.get("Min-Expires", "")) and minimum.isdigit():
                expires = int(minimum)
            elif response.status in (401, 407) and self.config.credentials is not None:
                header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
                challenge = choose(response.get_all(header))
                request = self._request(expires)
                value = authorization(challenge, self.config.credentials, "REGISTER", self.config.registrar)
                request.add("Authorization" if response.status == 401 else "Proxy-Authorization", value)
                response = await self.ua.request(request, self.config.proxy)
                if response.status not in (401, 407) or not choose(response.get_all(header)).stale:
                    return response
                continue
            else:
                return response
            response = await self.ua.request(self._request(expires), self.config.proxy)
        return response

    async def register(self) -> None:
        if self._closing:
            return
        self._attempt += 1
        attempt, self.gave_up = self._attempt, False
        await self.events.registering(self.config.assignment_id)
        try:
            async with _gate():
                response = await self._exchange(self.config.expires)
        except AuthError as error:
            await self._fail(f"cannot authenticate: {error}", retry=False)
            return
        if attempt != self._attempt or self._closing:
            return  # a later attempt (over a new flow) or a de-registration decides
        if 200 <= response.status < 300:
            await self._registered(response)
        elif response.status in TERMINAL or response.status in (401, 407):
            await self._fail(f"{response.status} {response.reason} from the registrar", retry=False)
        elif response.local:
            await self._fail(UNREACHABLE, retry=True, response=response)
            if self.proxy_failed is not None:
                self.proxy_failed(self.config.proxy)
        else:
            await self._fail(f"{response.status} {response.reason}", retry=True, response=response)

    async def unreachable(self) -> None:
        """The proxy stopped answering keep-alives: the binding may be gone, so it no longer counts
        as registered; whoever noticed registers it again when the proxy answers."""
        if self._closing or self.gave_up:
            return
        self.registered_until = None
        await self.events.failed(self.config.assignment_id, UNREACHABLE)

    async def _registered(self, response: Response) -> None:
        granted = self._granted(response)
        self.failures = 0
        self.service_route = response.get_all("Service-Route")
        self.registered_until = datetime.now(UTC) + timedelta(seconds=granted)
        self._schedule(refresh_delay(granted))
        await self.events.registered(self.config.assignment_id, self.registered_until, self.service_route)

    def _granted(self, response: Response) -> int:
        mine = self.contact_uri.split(";", 1)[0]
        for value in response.get_all("Contact"):
            contact = NameAddr.parse(value)
            expires = contact.params.get("expires")
            if contact.uri.split(";", 1)[0] == mine and expires and expires.isdigit():
                return int(expires)
        header = response.get("Expires", "")
        return int(header) if header and header.isdigit() else self.config.expires

    async def _fail(self, reason: str, *, retry: bool, response: Response | None = None) -> None:
        log.info("registration of %s failed: %s", self.config.impu, reason)
        self.registered_until = None
        self.gave_up = not retry
        await self.events.failed(self.config.assignment_id, reason)
        if retry:
            self.failures += 1
            hint = response.get("Retry-After", "") if response is not None else ""
            delay = min(MAX_BACKOFF, 2.0**self.failures) * random.uniform(0.5, 1.0)  # noqa: S311 (jitter)
            self._schedule(float(hint.split(";")[0]) if hint and hint.split(";")[0].isdigit() else delay)

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(delay, lambda: loop.create_task(self.register()))

    async def deregister(self) -> None:
        """Remove the binding (Expires: 0); the identity is told de-registered in any case."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        if self.registered_until is not None:
            async with _gate():
                response = await self._exchange(0)
            if not 200 <= response.status < 300:
                log.info("de-registration of %s answered %s", self.config.impu, response.status)
        self.registered_until = None
        await self.events.deregistered(self.config.assignment_id)

    def stop(self) -> None:
        """Forget the binding without telling the registrar (process shutdown)."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
