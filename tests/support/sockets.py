"""A browser socket as the tests open it: Channels' communicator on the portal's WebSocket routes,
with the user and session the authentication and session middlewares would have put in its scope."""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from portal.routing import websocket_urlpatterns


def communicator(
    path: str,
    user: Any = None,
    session: dict[str, Any] | None = None,
    language: str | None = None,
    cookies: dict[str, str] | None = None,
) -> WebsocketCommunicator:
    """`language`: the browser's Accept-Language header, when it sends one."""
    headers = [(b"accept-language", language.encode())] if language else []
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path, headers=headers)
    socket.scope["user"] = user or AnonymousUser()
    socket.scope["session"] = session or {}
    socket.scope["cookies"] = cookies or {}
    return socket
