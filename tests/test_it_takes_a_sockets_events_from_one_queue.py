"""On the Redis layer a socket takes what its browser sends and what the layer brings from one
queue (help_desk.sockets): both reach their handlers, each source in order, one at a time; a bad
frame still gets an error event; a closed socket's channel is forgotten and unsubscribed."""

import json
from typing import Any

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from help_desk.sockets import EventConsumer, Handler
from portal.layer import PipelinedPubSubChannelLayer

ROOM = "help.request.7"


class Desk(EventConsumer):
    forwarded = frozenset({"chat.message"})
    busy = False

    async def connect(self) -> None:
        await self.channel_layer.group_add(ROOM, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(ROOM, self.channel_name)

    def handlers(self) -> dict[str, Handler]:
        return {"ping": self.ping}

    async def ping(self, content: dict[str, Any]) -> None:
        assert not Desk.busy, "two events handled at once"
        Desk.busy = True
        await self.channel_layer.group_send(ROOM, {"type": "chat.message", "seq": content["n"]})
        await self.send_event({"type": "pong", "n": content["n"]})
        Desk.busy = False


@pytest.fixture
def redis_layer(settings, redis_url, channels_prefix):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "portal.layer.PipelinedPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": channels_prefix},
        }
    }
    layer = get_channel_layer()
    assert isinstance(layer, PipelinedPubSubChannelLayer)
    return layer


async def _events(socket: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    return [json.loads(await socket.receive_from(timeout=5)) for _ in range(count)]


async def test_it_hands_frames_and_layer_events_to_their_handlers_in_order(redis_layer):
    jane = WebsocketCommunicator(Desk.as_asgi(), "/ws/desk/")
    assert (await jane.connect())[0]
    for n in range(1, 21):
        await jane.send_to(text_data=json.dumps({"type": "ping", "n": n}))
    got = await _events(jane, 40)
    assert [e["n"] for e in got if e["type"] == "pong"] == list(range(1, 21))
    assert [e["seq"] for e in got if e["type"] == "chat.message"] == list(range(1, 21))
    await jane.send_to(text_data="{not json")
    assert (await _events(jane, 1))[0] == {"type": "error", "reason": "the frame is not JSON", "ref": None}
    await jane.send_to(text_data=json.dumps({"type": "ping", "n": 21}))
    assert {e["type"] for e in await _events(jane, 2)} == {"pong", "chat.message"}
    await jane.disconnect()
    await redis_layer.flush()


async def test_it_forgets_and_unsubscribes_a_closed_sockets_channel(redis_layer):
    jane = WebsocketCommunicator(Desk.as_asgi(), "/ws/desk/")
    assert (await jane.connect())[0]
    loop_layer = redis_layer._get_layer()
    (channel,) = loop_layer.channels
    shard = loop_layer._get_shard(channel)
    assert channel in shard._subscribed_to
    await jane.disconnect()
    assert channel not in loop_layer.channels
    assert channel not in shard._subscribed_to
    await redis_layer.group_send(ROOM, {"type": "chat.message", "seq": 1})  # to nobody: no error
    await redis_layer.flush()
