"""The benchmarks' load generator opens thousands of sockets at once; daphne drops a handshake it
has not accepted within 5 s. Like the browser client, the generator tries such a one again after a
pause; a refusal it does not, so a benchmark with the wrong cookie still fails loudly."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response

from bench import load


async def echo(socket: ServerConnection) -> None:
    async for frame in socket:
        await socket.send(frame)


async def server(answer: Any) -> tuple[Any, str]:
    running = await serve(echo, "127.0.0.1", 0, process_request=answer)
    port = running.sockets[0].getsockname()[1]
    return running, f"ws://127.0.0.1:{port}/ws/relay/r1/"


@pytest.fixture(autouse=True)
def short_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(load, "RETRY_PAUSES", (0.01, 0.01))


async def test_it_retries_a_handshake_the_server_dropped() -> None:
    dropped: list[str] = []

    def drop_the_first_two(connection: ServerConnection, request: Request) -> Response | None:
        if len(dropped) < 2:
            dropped.append(request.path)
            connection.transport.abort()  # daphne's reject: the TCP connection closes, no response
        return None

    running, url = await server(drop_the_first_two)
    before = load.handshakes.retried
    try:
        socket = await load.connect(url, "http://127.0.0.1")
        await socket.send("hello")
        assert await socket.recv() == "hello"
        await socket.close()
    finally:
        running.close()
    assert len(dropped) == 2
    assert load.handshakes.retried - before == 2


async def test_it_does_not_retry_a_refusal() -> None:
    seen: list[str] = []

    def refuse(connection: ServerConnection, request: Request) -> Response:
        seen.append(request.path)
        return connection.respond(403, "not yours\n")

    running, url = await server(refuse)
    try:
        with pytest.raises(InvalidStatus):
            await load.connect(url, "http://127.0.0.1")
    finally:
        running.close()
    assert len(seen) == 1


async def test_it_gives_up_on_a_server_that_keeps_dropping() -> None:
    def drop(connection: ServerConnection, request: Request) -> None:
        connection.transport.abort()

    running, url = await server(drop)
    try:
        with pytest.raises(Exception, match=r"connection closed|did not receive"):
            await load.connect(url, "http://127.0.0.1")
    finally:
        running.close()
