"""Inside a server, an action's events are handed to the server's loop and published there in
the order they were handed over; the database thread does not wait for the channel layer.
Outside one (a Celery task, a command) the send is waited for."""

import asyncio

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from portal import broadcast


async def test_it_hands_events_to_the_loop_and_publishes_them_in_order(monkeypatch):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("help.request.1", channel)
    redis_is_slow = asyncio.Event()
    publish = layer.group_send

    async def slow_publish(group, event):
        await redis_is_slow.wait()
        await publish(group, event)

    monkeypatch.setattr(layer, "group_send", slow_publish)
    for n in (1, 2):  # two batches, each returning before anything is published
        sends = [("help.request.1", {"type": "chat.message", "seq": n * 10 + k}) for k in (1, 2)]
        await asyncio.wait_for(database_sync_to_async(broadcast.group_send_many)(sends), timeout=2)
    redis_is_slow.set()
    received = [(await asyncio.wait_for(layer.receive(channel), timeout=2))["seq"] for _ in range(4)]
    assert received == [11, 12, 21, 22]


def test_it_waits_for_the_layer_outside_a_server():
    layer = get_channel_layer()
    channel = asyncio.run(layer.new_channel())
    asyncio.run(layer.group_add("help.request.2", channel))
    broadcast.group_send("help.request.2", {"type": "chat.read", "up_to": 3})
    assert asyncio.run(layer.receive(channel))["up_to"] == 3
