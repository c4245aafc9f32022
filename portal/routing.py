"""Every WebSocket route of the portal; each app contributes its own list. A path no app serves
is refused at the handshake like any other refusal, not by an exception in the router."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.urls import URLPattern, URLResolver, re_path

from help_desk.routing import websocket_urlpatterns as help_desk_routes
from portal.relay import RelayConsumer


class NoRouteConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Any path no route serves: the handshake is refused (an HTTP 403), as a stranger's is."""

    async def connect(self) -> None:
        await self.close(code=4404)


websocket_urlpatterns: list[URLPattern | URLResolver] = [*help_desk_routes]

if settings.RELAY_BASELINE:
    websocket_urlpatterns.append(re_path(r"^ws/relay/(?P<room>[A-Za-z0-9_-]{1,64})/$", RelayConsumer.as_asgi()))

websocket_urlpatterns.append(re_path(r"", NoRouteConsumer.as_asgi()))
