"""Every WebSocket route of the portal; each app contributes its own list."""

from django.conf import settings
from django.urls import URLPattern, URLResolver, re_path

from help_desk.routing import websocket_urlpatterns as help_desk_routes
from portal.relay import RelayConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [*help_desk_routes]

if settings.RELAY_BASELINE:
    websocket_urlpatterns.append(re_path(r"^ws/relay/(?P<room>[A-Za-z0-9_-]{1,64})/$", RelayConsumer.as_asgi()))
