"""A process's Redis subscriptions read in bulk.

Channels' pub/sub layer takes each published event off the subscription through redis-py's
`PubSub.get_message`: a timeout scope, a retry wrapper and seven awaited reads of the stream,
about 80 us of the event loop per event, paid by every process with a socket in the group. With
a conversation's two sockets on two processes that is paid twice per message: in the chat
benchmark, a sixth of the portal's CPU. Here the shard reads whatever the socket holds and cuts
it into frames in one pass; the events go to their channels' queues as Channels' own receiver
puts them. Confirmations of (un)subscribing still go to redis-py's `PubSub`, which keeps its
state of channels from them, and whenever the connection is not plainly readable (not yet made,
broken, redis-py midway through a reply) a read goes redis-py's way, which reconnects and
subscribes again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels_redis.pubsub import RedisSingleShardConnection  # type: ignore[import-untyped]

log = logging.getLogger(__name__)
READ_SIZE = 1 << 20
CRLF = b"\r\n"
Frame = list[bytes | int]


class UnreadableFrame(ValueError):
    pass


def frames_in(buffer: bytes) -> tuple[list[Frame], int]:
    """The complete frames (RESP3 pushes or RESP2 arrays of bulk strings and integers) at the
    start of `buffer`, and where the first incomplete one begins."""
    frames: list[Frame] = []
    done, size = 0, len(buffer)
    while done < size:
        frame, end = _frame_at(buffer, done, size)
        if frame is None:
            break
        frames.append(frame)
        done = end
    return frames, done


def _frame_at(buffer: bytes, start: int, size: int) -> tuple[Frame | None, int]:
    line = buffer.find(CRLF, start)
    if line < 0:
        return None, start
    if buffer[start] not in b">*":
        raise UnreadableFrame(f"not a push: {buffer[start:line][:40]!r}")
    frame: Frame = []
    at = line + 2
    for _ in range(int(buffer[start + 1 : line])):
        line = buffer.find(CRLF, at)
        if line < 0:
            return None, start
        kind = buffer[at]
        if kind == 0x24:  # $: a bulk string of the length given
            end = line + 2 + int(buffer[at + 1 : line])
            if end + 2 > size:
                return None, start
            frame.append(buffer[line + 2 : end])
            at = end + 2
        elif kind == 0x3A:  # :, an integer (the count of subscriptions in a confirmation)
            frame.append(int(buffer[at + 1 : line]))
            at = line + 2
        else:
            raise UnreadableFrame(f"unexpected element: {buffer[at:line][:40]!r}")
    return frame, at


class BulkReadingShard(RedisSingleShardConnection):  # type: ignore[misc]
    """Channels' shard connection (channels_redis 4.3, pinned) with its receiving loop replaced,
    and the connection portal.publishing writes its batches to, with the pool it came from."""

    def __init__(self, host: dict[str, Any], channel_layer: Any) -> None:
        super().__init__(host, channel_layer)
        self._reader: asyncio.StreamReader | None = None
        self._unread = b""
        self.publishing: Any = None
        self.publishing_pool: Any = None

    async def _do_receiving(self) -> None:
        while True:
            try:
                reader = self._readable()
                if reader is not None:
                    await self._receive_bulk(reader)
                elif self._pubsub is not None and self._pubsub.subscribed:
                    self._reader = None  # redis-py reads now: what was left unread is not ours
                    self._receive_message(await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1))
                else:
                    await asyncio.sleep(0.1)
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except Exception:
                log.exception("could not read the subscriptions")
                await self._abandon()
                await asyncio.sleep(1)

    def _readable(self) -> asyncio.StreamReader | None:
        """The subscription's stream, when nothing but this loop has a part of it."""
        pubsub = self._pubsub
        connection = pubsub.connection if pubsub is not None and pubsub.subscribed else None
        if connection is None or not connection.is_connected:
            return None
        parser, reader = connection._parser, connection._reader
        if getattr(parser, "_buffer", b"") or getattr(parser, "_chunks", None) or reader.at_eof():
            return None
        if reader is not self._reader:  # a fresh connection
            self._reader, self._unread = reader, b""
        return reader  # type: ignore[no-any-return]

    async def _receive_bulk(self, reader: asyncio.StreamReader) -> None:
        data = await reader.read(READ_SIZE)
        buffer = self._unread + data if self._unread else data
        frames, used = frames_in(buffer)
        self._unread = buffer[used:]
        channels, groups = self.channel_layer.channels, self.channel_layer.groups
        for frame in frames:
            if frame[0] != b"message":
                await self._pubsub.handle_message(frame, ignore_subscribe_messages=True)
                continue
            name, event = frame[1].decode(), frame[2]  # type: ignore[union-attr]
            if name in channels:
                channels[name].put_nowait(event)
            else:
                for channel in groups.get(name, ()):
                    if channel in channels:
                        channels[channel].put_nowait(event)

    async def _abandon(self) -> None:
        """After a frame that cannot be read: the stream is out of step, so drop the connection;
        redis-py's next read makes a new one and subscribes again."""
        self._reader, self._unread = None, b""
        connection = self._pubsub.connection if self._pubsub is not None else None
        if connection is not None:
            await connection.disconnect()
