from django.urls import URLPattern, path

from help_desk.consumers import ClientConsumer
from help_desk.conversation import DeskConsumer, HelpConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/client/", ClientConsumer.as_asgi()),
    path("ws/help/<int:request_id>/", HelpConsumer.as_asgi()),
    path("ws/desk/", DeskConsumer.as_asgi()),
]
