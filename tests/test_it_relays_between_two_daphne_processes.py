"""Production shape: two ASGI processes share one Redis channel layer and one PostgreSQL."""

import asyncio
import json

import pytest
import websockets
from websockets.typing import Origin


def _ws(base: str, room: str) -> str:
    return base.replace("http://", "ws://") + f"/ws/relay/{room}/"


@pytest.fixture
def two_processes(daphne_servers, redis_url, postgres_admin_url, channels_prefix):
    shared = dict(
        REDIS_URL=redis_url, DATABASE_URL=postgres_admin_url, CHANNELS_PREFIX=channels_prefix, RELAY_BASELINE="true"
    )
    return daphne_servers(**shared), daphne_servers(**shared)


async def test_it_relays_from_a_client_of_one_process_to_a_client_of_the_other(two_processes):
    first, second = two_processes
    async with (
        websockets.connect(_ws(first, "tax-1"), origin=Origin(first)) as jane,
        websockets.connect(_ws(second, "tax-1"), origin=Origin(second)) as advisor,
    ):
        # Both sockets must have joined the group before the first message is sent.
        await asyncio.sleep(0.3)
        await jane.send(json.dumps({"text": "Where do I enter my pension?"}))
        assert json.loads(await asyncio.wait_for(advisor.recv(), 5)) == {"text": "Where do I enter my pension?"}
        await advisor.send(json.dumps({"text": "Line 5a"}))
        assert json.loads(await asyncio.wait_for(jane.recv(), 5)) == {"text": "Line 5a"}


async def test_it_refuses_a_websocket_from_a_foreign_origin(two_processes):
    first, _ = two_processes
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(_ws(first, "tax-1"), origin=Origin("https://evil.example")):
            pass
    assert refused.value.response.status_code == 403
