"""A batch's events leave for Redis in one pipeline per shard (portal.layer), and each group's
subscribers still get that group's events in the order they were given."""

import asyncio

from redis.asyncio.client import Pipeline

from portal.broadcast import send_many
from portal.layer import PipelinedPubSubChannelLayer


async def test_it_publishes_a_batch_in_one_round_trip_per_shard_in_order(redis_url, channels_prefix, monkeypatch):
    layer = PipelinedPubSubChannelLayer(hosts=[redis_url, redis_url], prefix=channels_prefix)  # two shards
    rounds = []
    execute = Pipeline.execute

    async def counted(self, *args, **kwargs):
        rounds.append(len(self.command_stack))
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", counted)
    groups = [f"help.request.{n}" for n in range(6)]
    listeners = {}
    for group in groups:
        listeners[group] = await layer.new_channel()
        await layer.group_add(group, listeners[group])
    try:
        sends = [(groups[n % 6], {"type": "chat.message", "seq": n // 6 + 1}) for n in range(60)]
        await send_many(layer, sends)
        for group in groups:
            got = [await asyncio.wait_for(layer.receive(listeners[group]), 5) for _ in range(10)]
            assert [event["seq"] for event in got] == list(range(1, 11))
        assert 1 <= len(rounds) <= 2  # one per shard used, not one per event
        assert sum(rounds) == 60
    finally:
        await layer.flush()


async def test_it_sends_one_by_one_on_a_layer_without_pipelines(settings):
    from channels.layers import InMemoryChannelLayer

    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("help.request.1", channel)
    await send_many(layer, [("help.request.1", {"type": "chat.message", "seq": n}) for n in (1, 2)])
    assert [(await layer.receive(channel))["seq"] for _ in range(2)] == [1, 2]
