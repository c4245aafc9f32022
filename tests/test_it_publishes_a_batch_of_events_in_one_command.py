"""A batch's events leave for Redis in one command per shard (portal.layer), and each group's
subscribers still get that group's events in the order they were given."""

import asyncio

import pytest
import redis.asyncio
from redis.exceptions import ResponseError

from portal.broadcast import send_many
from portal.layer import PipelinedPubSubChannelLayer
from portal.publishing import publish_each


async def _calls(redis_url):
    """How often Redis has run each command so far (its own statistics, scripts' calls included)."""
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        stats = await admin.info("commandstats")
    finally:
        await admin.aclose()
    return {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}


async def _listening(layer, groups):
    listeners = {}
    for group in groups:
        listeners[group] = await layer.new_channel()
        await layer.group_add(group, listeners[group])
    return listeners


async def test_it_publishes_a_batch_in_one_command_per_shard_in_order(redis_url, channels_prefix):
    layer = PipelinedPubSubChannelLayer(hosts=[redis_url, redis_url], prefix=channels_prefix)  # two shards
    groups = [f"help.request.{n}" for n in range(6)]
    listeners = await _listening(layer, groups)
    before = await _calls(redis_url)
    try:
        sends = [(groups[n % 6], {"type": "chat.message", "seq": n // 6 + 1}) for n in range(60)]
        await send_many(layer, sends)
        for group in groups:
            got = [await asyncio.wait_for(layer.receive(listeners[group]), 5) for _ in range(10)]
            assert [event["seq"] for event in got] == list(range(1, 11))
        after = await _calls(redis_url)
        assert 1 <= after["evalsha"] - before.get("evalsha", 0) <= 2  # one per shard used, not one per event
        assert after["publish"] - before.get("publish", 0) == 60
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


async def test_it_publishes_again_on_a_fresh_connection_after_redis_dropped_it(redis_url, channels_prefix):
    layer = PipelinedPubSubChannelLayer(hosts=[redis_url], prefix=channels_prefix)
    listeners = await _listening(layer, ["help.request.1"])
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        await send_many(layer, [("help.request.1", {"type": "chat.message", "seq": 1})])
        publishing = layer._get_layer()._shards[0].publishing
        await admin.execute_command("CLIENT", "KILL", "ID", await _client_id(publishing))
        await send_many(layer, [("help.request.1", {"type": "chat.message", "seq": 2})])
        got = [await asyncio.wait_for(layer.receive(listeners["help.request.1"]), 5) for _ in range(2)]
        assert [event["seq"] for event in got] == [1, 2]
    finally:
        await admin.aclose()
        await layer.flush()


async def _client_id(connection):
    await connection.send_command("CLIENT", "ID")
    return await connection.read_response()


async def test_it_refuses_an_error_of_the_script_plainly(redis_url, channels_prefix):
    """An error other than a missing script (here Redis refusing writes of scripts' kind) is raised,
    and the connection stays in step for the next batch."""
    layer = PipelinedPubSubChannelLayer(hosts=[redis_url], prefix=channels_prefix)
    listeners = await _listening(layer, ["help.request.1"])
    try:
        shard = layer._get_layer()._shards[0]
        with pytest.raises(ResponseError):
            await publish_each(shard, "return redis.error_reply('refused')", "0" * 40, ["x", b"y"])
        await send_many(layer, [("help.request.1", {"type": "chat.message", "seq": 1})])
        assert (await asyncio.wait_for(layer.receive(listeners["help.request.1"]), 5))["seq"] == 1
    finally:
        await layer.flush()


async def test_it_sends_one_by_one_on_a_layer_without_pipelines(settings):
    from channels.layers import InMemoryChannelLayer

    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("help.request.1", channel)
    await send_many(layer, [("help.request.1", {"type": "chat.message", "seq": n}) for n in (1, 2)])
    assert [(await layer.receive(channel))["seq"] for _ in range(2)] == [1, 2]
