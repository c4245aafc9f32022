"""A batch's events leave for Redis in one command per shard (portal.layer), and each group's
subscribers still get that group's events in the order they were given."""

import asyncio

import redis.asyncio

from portal.broadcast import send_many
from portal.layer import PipelinedPubSubChannelLayer


def _counting(monkeypatch):
    """The commands the layer's Redis clients send, by name and number of arguments."""
    commands = []
    execute = redis.asyncio.Redis.execute_command

    async def counted(self, *args, **kwargs):
        commands.append((args[0], len(args)))
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.asyncio.Redis, "execute_command", counted)
    return commands


async def _listening(layer, groups):
    listeners = {}
    for group in groups:
        listeners[group] = await layer.new_channel()
        await layer.group_add(group, listeners[group])
    return listeners


async def test_it_publishes_a_batch_in_one_command_per_shard_in_order(redis_url, channels_prefix, monkeypatch):
    layer = PipelinedPubSubChannelLayer(hosts=[redis_url, redis_url], prefix=channels_prefix)  # two shards
    groups = [f"help.request.{n}" for n in range(6)]
    listeners = await _listening(layer, groups)
    commands = _counting(monkeypatch)
    try:
        sends = [(groups[n % 6], {"type": "chat.message", "seq": n // 6 + 1}) for n in range(60)]
        await send_many(layer, sends)
        for group in groups:
            got = [await asyncio.wait_for(layer.receive(listeners[group]), 5) for _ in range(10)]
            assert [event["seq"] for event in got] == list(range(1, 11))
        sent = [(name, size) for name, size in commands if name != "PING"]
        assert 1 <= len(sent) <= 2  # one per shard used, not one per event
        assert {name for name, _ in sent} == {"EVALSHA"}
        assert sum(size - 3 for _, size in sent) == 2 * 60  # a channel and an event each
    finally:
        await layer.flush()


async def test_it_publishes_after_redis_forgot_the_script(redis_url, channels_prefix):
    layer = PipelinedPubSubChannelLayer(hosts=[redis_url], prefix=channels_prefix)
    listeners = await _listening(layer, ["help.request.1"])
    try:
        await send_many(layer, [("help.request.1", {"type": "chat.message", "seq": 1})])
        admin = redis.asyncio.Redis.from_url(redis_url)
        await admin.script_flush()  # as a restarted Redis would have
        await admin.aclose()
        await send_many(layer, [("help.request.1", {"type": "chat.message", "seq": 2})])
        got = [await asyncio.wait_for(layer.receive(listeners["help.request.1"]), 5) for _ in range(2)]
        assert [event["seq"] for event in got] == [1, 2]
    finally:
        await layer.flush()


async def test_it_sends_one_by_one_on_a_layer_without_pipelines(settings):
    from channels.layers import InMemoryChannelLayer

    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("help.request.1", channel)
    await send_many(layer, [("help.request.1", {"type": "chat.message", "seq": n}) for n in (1, 2)])
    assert [(await layer.receive(channel))["seq"] for _ in range(2)] == [1, 2]
