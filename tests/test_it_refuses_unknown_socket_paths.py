"""A WebSocket to a path no route serves is refused at the handshake (403), as a stranger's is,
not answered with a 500 and a traceback; nor does a request id past any row's reach an error."""

import json

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from websockets.typing import Origin

from portal.routing import websocket_urlpatterns
from tests.factories import make_conversation, make_queue


async def test_it_answers_403_to_a_path_no_route_serves(daphne_servers, redis_url, postgres_admin_url, tmp_path):
    base = daphne_servers(REDIS_URL=redis_url, DATABASE_URL=postgres_admin_url)
    ws = base.replace("http://", "ws://")
    for path in ("/ws/nowhere/", "/ws/help/x/", "/socket", "/ws/relay/tax-1/", "/ws/desk/"):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(ws + path, origin=Origin(base)):
                pass
        assert refused.value.response.status_code == 403, path
    logs = "".join(log.read_text() for log in tmp_path.glob("daphne-*.log"))
    assert "Traceback" not in logs


def _socket(path, guest_key):
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    socket.scope.update(user=None, session={"guest_key": guest_key})
    return socket


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_sync_thread_connections")
async def test_it_refuses_a_request_id_past_a_bigint_and_serves_the_right_one():
    request, jane, _ = await sync_to_async(make_conversation)(await sync_to_async(make_queue)())
    for request_id in (2**64, 10**30, 0):
        assert await _socket(f"/ws/help/{request_id}/", jane.guest_key).connect() == (False, 4403)
    socket = _socket(f"/ws/help/{request.pk}/", jane.guest_key)
    assert (await socket.connect())[0]
    assert json.loads(await socket.receive_from(timeout=5))["type"] == "help.request"
    await socket.disconnect()
