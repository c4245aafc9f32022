"""The channel layer of a deployment: Channels' Redis pub/sub layer, plus `group_send_many`.

The pub/sub layer publishes each event on its own, one Redis round trip each, under a lock per
shard; a chat batch's events (each message to its conversation's group, and where chat crosses
the IMS the MESSAGEs' own events) went one after another, each waiting for the last. Here a
batch's events go to Redis as one command per shard, a script that publishes each in turn: one
write, one reply (portal.publishing). (A pipeline of PUBLISHes was one round trip too, but
redis-py parses a reply per command in Python: 10 % of the IMS side's loop.) A group always maps
to the same shard, so its events keep their order. Subscriptions are read in bulk
(portal.subscription). `inbox` and `discard_channel` let a consumer take its channel's events
from the layer's own queue (help_desk.sockets). Everything else is the layer as it is.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer  # type: ignore[import-untyped]

from portal.publishing import publish_each
from portal.subscription import BulkReadingShard

PUBLISH_EACH = "for i = 1, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end"
PUBLISH_EACH_SHA = hashlib.sha1(PUBLISH_EACH.encode()).hexdigest()  # noqa: S324 (Redis names scripts so)


class PipelinedPubSubChannelLayer(RedisPubSubChannelLayer):  # type: ignore[misc]
    def _get_layer(self) -> Any:
        """Channels' per-loop layer, its shards reading their subscriptions in bulk (portal.subscription)."""
        loop_layer = super()._get_layer()
        if not getattr(loop_layer, "reads_in_bulk", False):  # fresh: no shard has connected yet
            loop_layer._shards = [BulkReadingShard(shard.host, loop_layer) for shard in loop_layer._shards]
            loop_layer.reads_in_bulk = True
        return loop_layer

    async def group_send_many(self, sends: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish each (group, event), in order, in one command per shard."""
        # The per-loop layer and its shards are channels_redis 4.3's own (pinned in requirements.txt);
        # tests/test_it_publishes_a_batch_of_events_in_one_command.py runs this against a real Redis.
        loop_layer = self._get_layer()
        by_shard: dict[Any, list[str | bytes]] = {}
        for group, event in sends:
            channel = loop_layer._get_group_channel_name(group)
            by_shard.setdefault(loop_layer._get_shard(channel), []).extend((channel, self.serialize(event)))
        for shard, published in by_shard.items():
            await publish_each(shard, PUBLISH_EACH, PUBLISH_EACH_SHA, published)

    def inbox(self, channel: str) -> asyncio.Queue[Any]:
        """The queue this process's layer fills for `channel` (one made by new_channel)."""
        queue: asyncio.Queue[Any] = self._get_layer().channels[channel]
        return queue

    async def discard_channel(self, channel: str) -> None:
        """What Channels' receive does when its consumer is cancelled: forget and unsubscribe."""
        loop_layer = self._get_layer()
        if loop_layer.channels.pop(channel, None) is not None:
            await loop_layer._get_shard(channel).unsubscribe(channel)
