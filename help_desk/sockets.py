"""The base of the browser client's consumers: Channels' JSON consumer, with one handler per
event `type` and one schema per type (help_desk.frames) checked before the handler runs. A frame
that cannot be used gets an `error` event and the socket stays open: nothing a browser sends
closes it or reaches another socket's work."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext as _

from help_desk import frames

log = logging.getLogger(__name__)
MAX_FRAME = 64 * 1024
MAX_DEPTH = 8  # the deepest frame any event needs is 3 (call.quality's summary)
MAX_DIGITS = 20  # a bigint has 19
Handler = Callable[[dict[str, Any]], Awaitable[None]]


class UnusableFrame(ValueError):
    """A frame that is not a JSON object of at most MAX_FRAME characters."""


class TokenBucket:
    """`rate` frames a second on average, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.at = self.burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class EventConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    # Channel-layer event types passed on to the browser exactly as they come.
    forwarded: ClassVar[frozenset[str]] = frozenset()
    # What a browser may send: the schema of each event type it has a handler for.
    schemas: ClassVar[Mapping[str, frames.Schema]] = {}
    bucket: TokenBucket | None = None
    language: str = settings.LANGUAGE_CODE

    def handlers(self) -> dict[str, Handler]:
        return {}

    def all_handlers(self) -> dict[str, Handler]:
        return self.handlers()

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        """The socket's language, decided once as LocaleMiddleware decides a page's: every text
        this socket sends from now on is in it (dispatch)."""
        self.language = language_of(self.scope)
        await super().websocket_connect(message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # The override reaches the database threads too (asgiref carries the context there):
        # a refusal raised in an action reads in this socket's language.
        with translation.override(self.language):
            await self._dispatch(message)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = str(message.get("type", ""))
        if kind in self.forwarded:
            await self.send_event(message)
        elif kind == "websocket.receive":
            # Channels' dispatch would first hop to the database thread to close old connections
            # (a thread hop a frame, and a re-armed health check, SELECT 1, for the next query).
            # These consumers reach the database only through database_sync_to_async, which does
            # that around each call, and the group commit (portal.batching), which does it once
            # a second: a frame goes straight to its handler.
            await self.websocket_receive(message)
        elif kind.startswith("websocket.") or hasattr(self, kind.replace(".", "_")):
            await super().dispatch(message)
        # Else an event of a group this socket is in that it has no use for (a conversation
        # socket hears its holder's pager messages, say): dropped. A socket never dies of one.

    async def send_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def error(self, reason: str, ref: Any = None) -> None:
        await self.send_event({"type": "error", "reason": reason, "ref": ref})

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        return decoded(text_data)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if not self._admitted():
            await self.error(
                _("more than %(rate)s frames a second: this one was dropped") % {"rate": settings.WS_FRAMES_PER_SECOND}
            )
            return
        if not text_data:  # binary, or an empty text frame (Channels would raise on it)
            await self.error(_("frames are JSON text up to 64 KiB"))
            return
        try:
            await super().receive(text_data=text_data, **kwargs)
        except UnusableFrame as unusable:
            await self.error(str(unusable))

    def _admitted(self) -> bool:
        if self.bucket is None:
            self.bucket = TokenBucket(settings.WS_FRAMES_PER_SECOND, settings.WS_FRAME_BURST)
        return self.bucket.take()

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        ref = content.get("ref")
        if not frames.usable_ref(ref):
            await self.error(_("ref: a string of up to 64 characters, an integer or null"))
            return
        kind = content.get("type")
        handler = self.all_handlers().get(kind) if isinstance(kind, str) else None
        schema = self.schemas.get(kind) if isinstance(kind, str) else None
        if handler is None or schema is None:
            await self.error(_("unknown event type %(type)s") % {"type": _shown(kind)}, ref)
            return
        fields = frames.checked(schema, content)
        if isinstance(fields, str):
            await self.error(fields, ref)
            return
        await self.handle(handler, {**fields, "type": kind, "ref": ref})

    async def handle(self, handler: Handler, event: dict[str, Any]) -> None:
        """A frame that passed its schema and still fails is the server's fault: logged, and the
        sender hears of it (on the socket, which stays open) as it would of a refusal."""
        try:
            await handler(event)
        except Exception:
            log.exception("a %s event failed", event["type"])
            await self.error(_("the server could not handle this event; try again"), event["ref"])


def why_refused(refused: Exception) -> str:
    """What a refused request says to the person, in the socket's language: a row that is not
    there is no such request (Django's own words name the model, in English)."""
    if isinstance(refused, ObjectDoesNotExist):
        return _("no such request")
    return str(refused) or _("no such request")


def language_of(scope: Mapping[str, Any]) -> str:
    """The language a page would be in: the language cookie, else Accept-Language, among
    settings.LANGUAGES (Django's own choice, made on a request built of the handshake's)."""
    request = HttpRequest()
    request.COOKIES = dict(scope.get("cookies") or {})
    for name, value in scope.get("headers") or ():
        if name.lower() == b"accept-language":
            request.META["HTTP_ACCEPT_LANGUAGE"] = value.decode("latin-1")
    return translation.get_language_from_request(request)


def decoded(text_data: str) -> dict[str, Any]:
    """A frame's JSON object, or UnusableFrame saying why there is none."""
    if len(text_data) > MAX_FRAME:
        raise UnusableFrame(_("frames are JSON text up to 64 KiB"))
    try:
        content = json.loads(text_data, parse_constant=_no_constant, parse_int=_int, parse_float=_float)
    except UnusableFrame:
        raise
    except (RecursionError, ValueError):
        raise UnusableFrame(_("the frame is not JSON")) from None
    if not isinstance(content, dict):
        raise UnusableFrame(_("the frame is not a JSON object"))
    if _depth(content) > MAX_DEPTH:
        raise UnusableFrame(_("the frame nests deeper than %(depth)s levels") % {"depth": MAX_DEPTH})
    return content


def _shown(kind: Any) -> str:
    shown = repr(kind)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _depth(value: Any) -> int:
    """How deep the decoded frame nests, level by level (no recursion on what a client sent)."""
    depth, level = 0, [value]
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return depth
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
            if isinstance(child, dict | list)
        ]
    return depth


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON: refused like any other malformed frame."""
    raise UnusableFrame(_("%(name)s is not JSON") % {"name": name})


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise UnusableFrame(_("numbers have at most %(digits)s digits") % {"digits": MAX_DIGITS})
    return int(digits)


def _float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise UnusableFrame(_("%(number)s is out of range") % {"number": literal})
    return value
