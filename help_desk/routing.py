from django.urls import URLPattern, path

from help_desk.consumers import ClientConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/client/", ClientConsumer.as_asgi()),
]
