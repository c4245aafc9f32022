"""The layer's shards read what Redis publishes in bulk (portal.subscription): every event reaches
its channels in order, whatever the reads' boundaries, and redis-py still keeps its state of
subscriptions and reconnects."""

import asyncio

import pytest
import redis.asyncio

from portal import subscription
from portal.broadcast import send_many
from portal.layer import PipelinedPubSubChannelLayer
from portal.subscription import UnreadableFrame, frames_in

STREAM = (
    b">3\r\n$9\r\nsubscribe\r\n$6\r\ngroup1\r\n:1\r\n"
    b">3\r\n$7\r\nmessage\r\n$6\r\ngroup1\r\n$8\r\nab\r\n\r\ncd\r\n"  # an event holding CRLFs
    b"*3\r\n$7\r\nmessage\r\n$6\r\ngroup1\r\n$0\r\n\r\n"  # RESP2, an empty event
    b">3\r\n$11\r\nunsubscribe\r\n$6\r\ngroup1\r\n:0\r\n"
)
FRAMES = [
    [b"subscribe", b"group1", 1],
    [b"message", b"group1", b"ab\r\n\r\ncd"],
    [b"message", b"group1", b""],
    [b"unsubscribe", b"group1", 0],
]


def test_it_cuts_frames_wherever_the_reads_end():
    for cut in range(len(STREAM) + 1):
        first, used = frames_in(STREAM[:cut])
        rest, used_after = frames_in(STREAM[used:])
        assert first + rest == FRAMES, cut
        assert used + used_after == len(STREAM)


def test_it_refuses_what_is_not_a_push():
    with pytest.raises(UnreadableFrame):
        frames_in(b"-ERR unknown command\r\n")
    with pytest.raises(UnreadableFrame):
        frames_in(b">2\r\n$7\r\nmessage\r\n#t\r\n")


async def _listening(layer, group, count):
    channels = [await layer.new_channel() for _ in range(count)]
    for channel in channels:
        await layer.group_add(group, channel)
    return channels


@pytest.mark.parametrize("read_size", [subscription.READ_SIZE, 997])  # and in reads that split events
async def test_it_delivers_a_burst_in_order_to_every_channel_of_a_group(
    redis_url, channels_prefix, read_size, monkeypatch
):
    monkeypatch.setattr(subscription, "READ_SIZE", read_size)
    layer = PipelinedPubSubChannelLayer(hosts=[redis_url], prefix=channels_prefix)
    try:
        channels = await _listening(layer, "help.request.1", 2)
        big = "x" * 300_000  # larger than one read of the socket
        sends = [
            ("help.request.1", {"type": "chat.message", "seq": n, "body": big if n == 7 else ""}) for n in range(600)
        ]
        await send_many(layer, sends)
        for channel in channels:
            got = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(600)]
            assert [event["seq"] for event in got] == list(range(600))
            assert got[7]["body"] == big
    finally:
        await layer.flush()


async def test_it_lets_redis_py_keep_track_of_unsubscribing(redis_url, channels_prefix):
    layer = PipelinedPubSubChannelLayer(hosts=[redis_url], prefix=channels_prefix)
    try:
        (channel,) = await _listening(layer, "help.request.2", 1)
        await layer.group_discard("help.request.2", channel)
        await layer.discard_channel(channel)
        pubsub = layer._get_layer()._shards[0]._pubsub
        for _ in range(100):
            if not pubsub.pending_unsubscribe_channels:
                break
            await asyncio.sleep(0.02)
        assert not pubsub.pending_unsubscribe_channels
        assert not pubsub.channels
    finally:
        await layer.flush()


async def test_it_subscribes_again_after_redis_drops_the_connection(redis_url, channels_prefix):
    layer = PipelinedPubSubChannelLayer(hosts=[redis_url], prefix=channels_prefix)
    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        (channel,) = await _listening(layer, "help.request.3", 1)
        await send_many(layer, [("help.request.3", {"type": "chat.message", "seq": 1})])
        assert (await asyncio.wait_for(layer.receive(channel), 5))["seq"] == 1
        assert await admin.client_kill_filter(_type="pubsub") >= 1
        seq = await _published_until_heard(layer, channel)
        assert seq > 1
    finally:
        await admin.aclose()
        await layer.flush()


async def _published_until_heard(layer, channel):
    """Events published while the subscription is being made again are lost, as with redis-py's
    own reading; the portal's clients catch up by sequence. Publish until one is heard."""
    for seq in range(2, 60):
        await send_many(layer, [("help.request.3", {"type": "chat.message", "seq": seq})])
        try:
            return (await asyncio.wait_for(layer.receive(channel), 0.25))["seq"]
        except TimeoutError:
            continue
    raise AssertionError("never heard again")
