"""A Channels round trip through the real Redis channel layer (the production layer)."""

import json

import pytest
from channels.testing import WebsocketCommunicator

from portal.relay import RelayConsumer

# Consumers close stale database connections around each event.
pytestmark = pytest.mark.django_db(transaction=True)


def _connect(room: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(RelayConsumer.as_asgi(), f"/ws/relay/{room}/")
    communicator.scope["url_route"] = {"kwargs": {"room": room}}
    return communicator


async def test_it_relays_a_message_between_two_sockets_over_redis(settings, redis_url, channels_prefix):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": channels_prefix},
        }
    }
    jane, advisor = _connect("r1"), _connect("r1")
    assert (await jane.connect())[0]
    assert (await advisor.connect())[0]
    try:
        await jane.send_to(text_data=json.dumps({"text": "Hello, I need help with form 1040"}))
        received = json.loads(await advisor.receive_from(timeout=5))
        assert received == {"text": "Hello, I need help with form 1040"}
        await advisor.send_to(text_data=json.dumps({"text": "Happy to help"}))
        assert json.loads(await jane.receive_from(timeout=5)) == {"text": "Happy to help"}
        # The sender does not get its own message back.
        assert await jane.receive_nothing(timeout=0.3)
    finally:
        await jane.disconnect()
        await advisor.disconnect()


async def test_it_answers_a_binary_frame_with_an_error_event_and_keeps_the_socket(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    jane = _connect("r2")
    assert (await jane.connect())[0]
    await jane.send_to(bytes_data=b"\x00\x01")
    assert json.loads(await jane.receive_from(timeout=5))["type"] == "error"
    await jane.send_to(text_data="still here")  # the socket stays open after the error
    await jane.disconnect()
