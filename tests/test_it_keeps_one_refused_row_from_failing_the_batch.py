"""A group commit carries many people's rows in one transaction. A row the database refuses
fails alone: its sender hears why, everyone else's rows are written. And an event the channel
layer cannot encode is skipped alone: the rest of its batch, other people's, still goes out."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import DataError, transaction

from help_desk.models import OfflineMessage
from portal import broadcast
from portal.batching import Batcher
from tests.factories import make_queue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


@sync_to_async
def _stored() -> list[str]:
    return list(OfflineMessage.objects.order_by("message").values_list("message", flat=True))


async def test_it_writes_the_others_when_the_database_refuses_one_row():
    queue = await sync_to_async(make_queue)()
    batches = []

    def store(messages: list[str]) -> list[OfflineMessage]:
        batches.append(len(messages))
        rows = [OfflineMessage(queue=queue, name="Jane", email="jane@example.com", message=m) for m in messages]
        with transaction.atomic():
            return OfflineMessage.objects.bulk_create(rows)

    batcher = Batcher(store, linger=0.05)  # all five in one batch
    texts = [f"About line {n}" for n in range(5)]
    texts[2] = "About \x00 line 2"  # PostgreSQL refuses NUL in text
    outcomes = await asyncio.gather(*(batcher.submit(text) for text in texts), return_exceptions=True)
    assert batches[0] == 5  # they did share a transaction
    assert isinstance(outcomes[2], DataError)
    written = [o for o in outcomes if isinstance(o, OfflineMessage)]
    assert [o.message for o in written] == [t for n, t in enumerate(texts) if n != 2]
    assert await _stored() == ["About line 0", "About line 1", "About line 3", "About line 4"]


async def test_it_publishes_the_rest_of_a_batch_past_an_event_the_layer_cannot_encode(
    settings, redis_url, channels_prefix
):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": channels_prefix},
        }
    }
    layer = get_channel_layer()
    advisor = await layer.new_channel()
    await layer.group_add("help.request.1", advisor)
    try:
        await broadcast.publish(
            [
                ("help.request.1", {"type": "chat.read", "request": 1, "up_to": 2**70}),  # msgpack: past 64 bits
                ("help.request.1", {"type": "chat.message", "request": 1, "message": {"body": "Line 5a?"}}),
            ]
        )
        received = await asyncio.wait_for(layer.receive(advisor), timeout=5)
        assert received["message"] == {"body": "Line 5a?"}
    finally:
        await layer.group_discard("help.request.1", advisor)
        await layer.flush()
