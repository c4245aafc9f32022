"""A batch of events published in one command written straight to a connection of the shard's own.

redis-py's `evalsha` took about 200 us of the event loop per call (connection pool, retry
wrapper, observability hooks, a reply parsed through its generic parser); a chat message over the
IMS publishes two or three times on the IMS side at moderate rates. Here the command is packed
once and written to a connection redis-py made (so its handshake: password, TLS, database,
protocol), and the one-line reply read back: about 60 us, most of it the system calls. A broken
connection is replaced and the batch written once more, as redis-py's retry did: a subscriber
may then hear an event twice, which the portal's clients drop by its sequence.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from portal.subscription import BulkReadingShard

Published = list[str | bytes]  # channel, event, channel, event, ...


def packed(*args: str | bytes) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


async def publish_each(shard: BulkReadingShard, script: str, sha: str, published: Published) -> None:
    """Run `script` (known to Redis by `sha`) over `published` on the shard, under its lock, so
    that batches keep their order."""
    async with shard._lock:
        shard._ensure_redis()
        try:
            await _run(await _connection(shard), script, sha, published)
        except (RedisConnectionError, OSError, asyncio.IncompleteReadError):
            await _drop(shard)
            await _run(await _connection(shard), script, sha, published)


async def _run(connection: Any, script: str, sha: str, published: Published) -> None:
    reply = await _command(connection, packed("EVALSHA", sha, "0", *published))
    if reply.startswith(b"-NOSCRIPT"):  # a Redis restarted, or flushed its scripts: once more, with the text
        reply = await _command(connection, packed("EVAL", script, "0", *published))
    if reply[:1] in (b"-", b"!"):
        raise ResponseError(reply[1:].decode(errors="replace").strip())


async def _command(connection: Any, command: bytes) -> bytes:
    """The reply's first line: the script returns nothing (`_`, or `$-1` in RESP2), or an error."""
    connection._writer.write(command)
    reader: asyncio.StreamReader = connection._reader
    try:
        reply = await reader.readline()
    except BaseException:  # cancelled, say: the reply is still due, so the connection is out of step
        await connection.disconnect()
        raise
    if not reply.endswith(b"\r\n"):
        raise RedisConnectionError("Redis closed the connection")
    if reply[:1] == b"!":  # a RESP3 blob error: its text follows
        reply += await reader.readexactly(int(reply[1:-2]) + 2)
    elif reply not in (b"_\r\n", b"$-1\r\n") and reply[:1] != b"-":
        raise RedisConnectionError(f"unexpected reply to a publishing script: {reply[:40]!r}")
    return reply


async def _connection(shard: BulkReadingShard) -> Any:
    """The shard's publishing connection, from its current pool (a flush replaces the pool)."""
    pool = shard._redis.connection_pool
    connection = shard.publishing
    if connection is None or shard.publishing_pool is not pool:
        connection = await pool.get_connection()  # kept for good: never back in the pool
        shard.publishing, shard.publishing_pool = connection, pool
    if not connection.is_connected:
        await connection.connect()
    return connection


async def _drop(shard: BulkReadingShard) -> None:
    if shard.publishing is not None:
        await shard.publishing.disconnect()
