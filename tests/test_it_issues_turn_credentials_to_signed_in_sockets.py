"""ICE servers reach only sockets past their authorization, as the first event after accept and
again on `ice.refresh`; the TURN credential is one a real coturn with use-auth-secret accepts,
until its expiry."""

import base64
import hashlib
import hmac
import json
import re
import subprocess
import time

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured

from help_desk import actions
from identity_blocks.holders import Holder
from portal import turn
from portal.env import env_uris
from tests.factories import make_advisor, make_queue, make_user
from tests.support.coturn import allocate, coturn
from tests.support.processes import manage, portal_env
from tests.support.sockets import communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]
TURN_URL = "turn:turn.example.com:3478?transport=udp"
SECRET = "shared-with-coturn"


@pytest.fixture
def turn_settings(settings):
    settings.TURN_URLS = [TURN_URL]
    settings.TURN_SECRET = SECRET
    settings.TURN_CREDENTIAL_SECONDS = 600
    settings.STUN_URLS = ["stun:stun.example.com:3478"]
    return settings


async def _first_event(socket):
    return json.loads(await socket.receive_from(timeout=5))


def _setup():
    queue = make_queue()
    alex = make_advisor("alex", queue, presence="available")
    key = Holder.new_guest_key()
    request = actions.request_help(Holder.guest(key), queue, "chat", False)
    return request.pk, key, alex.user, make_user("outsider")


def _assert_issued(event, user_pattern):
    stun, relay = event["servers"]
    assert stun == {"urls": ["stun:stun.example.com:3478"]}
    assert relay["urls"] == [TURN_URL]
    expiry, user = relay["username"].split(":")
    assert re.fullmatch(user_pattern, user)
    assert int(expiry) == event["expires"]
    assert abs(int(expiry) - (time.time() + 600)) < 5
    expected = base64.b64encode(hmac.new(SECRET.encode(), relay["username"].encode(), hashlib.sha1).digest())
    assert relay["credential"] == expected.decode()


async def test_it_gives_ice_servers_only_to_sockets_it_accepted(turn_settings):
    request_id, key, advisor, outsider = await sync_to_async(_setup)()
    refused = [
        communicator(f"/ws/help/{request_id}/"),
        communicator(f"/ws/help/{request_id}/", session={"guest_key": Holder.new_guest_key()}),
        communicator(f"/ws/help/{request_id}/", user=outsider),
        communicator("/ws/desk/", user=outsider),
        communicator("/ws/client/"),
    ]
    for socket in refused:
        connected, code = await socket.connect()
        assert not connected
        assert code in (4401, 4403)
        assert await socket.receive_nothing(timeout=0.2)  # not even an event before the refusal
    guest_digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    for socket, user in [
        (communicator(f"/ws/help/{request_id}/", session={"guest_key": key}), f"guest\\.{guest_digest}"),
        (communicator("/ws/desk/", user=advisor), f"user\\.{advisor.pk}"),
        (communicator("/ws/client/", user=outsider), f"user\\.{outsider.pk}"),
    ]:
        assert (await socket.connect())[0]
        event = await _first_event(socket)
        assert event["type"] == "ice.servers"
        _assert_issued(event, user)
        await socket.disconnect()


async def test_it_issues_fresh_servers_on_ice_refresh(turn_settings):
    _, _, advisor, _ = await sync_to_async(_setup)()
    desk = communicator("/ws/desk/", user=advisor)
    assert (await desk.connect())[0]
    first = await _first_event(desk)
    turn_settings.TURN_CREDENTIAL_SECONDS = 900
    await desk.send_to(text_data=json.dumps({"type": "ice.refresh", "ref": 3}))
    while (fresh := await _first_event(desk))["type"] != "ice.servers":
        pass  # the desk's own state and identity events come first
    assert fresh["ref"] == 3
    assert fresh["expires"] - first["expires"] >= 299
    assert fresh["servers"][1]["username"] != first["servers"][1]["username"]
    assert (first["policy"], fresh["policy"]) == ("all", "all")  # any candidate, unless relay is asked for
    await desk.disconnect()


async def test_it_tells_the_page_to_use_the_relay_only_where_configured(turn_settings):
    turn_settings.ICE_TRANSPORT_POLICY = "relay"
    _, _, advisor, _ = await sync_to_async(_setup)()
    desk = communicator("/ws/desk/", user=advisor)
    assert (await desk.connect())[0]
    event = await _first_event(desk)
    assert (event["type"], event["policy"]) == ("ice.servers", "relay")
    await desk.disconnect()


async def test_it_sends_no_ice_servers_when_none_are_configured():
    request_id, key, _, _ = await sync_to_async(_setup)()
    jane = communicator(f"/ws/help/{request_id}/", session={"guest_key": key})
    assert (await jane.connect())[0]
    assert (await _first_event(jane))["type"] == "help.request"
    await jane.disconnect()


def test_it_issues_credentials_coturn_accepts_until_they_expire(tmp_path, settings):
    with coturn(tmp_path) as relay:
        settings.TURN_URLS, settings.TURN_SECRET = relay.urls, relay.secret
        (issued,) = turn.ice_servers(Holder.guest(Holder.new_guest_key()))
        assert allocate(relay.port, issued["username"], issued["credential"]) == 200
        expired = turn.turn_server(relay.urls, relay.secret, "user.7", int(time.time()) - 1)
        assert allocate(relay.port, expired["username"], expired["credential"]) == 401
        forged = turn.turn_server(relay.urls, "not-the-secret", "user.7", int(time.time()) + 600)
        assert allocate(relay.port, forged["username"], forged["credential"]) == 401


def test_it_refuses_to_start_with_unusable_turn_settings(monkeypatch):
    monkeypatch.setenv("TURN_URLS", "turn:turn.example.com:3478?transport=udp, turns:turn.example.com:5349")
    assert env_uris("TURN_URLS", ("turn", "turns")) == [
        "turn:turn.example.com:3478?transport=udp",
        "turns:turn.example.com:5349",
    ]
    monkeypatch.setenv("TURN_URLS", "https://turn.example.com/")
    with pytest.raises(ImproperlyConfigured, match="TURN_URLS"):
        env_uris("TURN_URLS", ("turn", "turns"))
    env = portal_env(TURN_URLS="turn:turn.example.com:3478", TURN_SECRET="")
    checked = subprocess.run(manage("check"), env=env, capture_output=True, text=True, timeout=60)
    assert checked.returncode != 0
    assert "TURN_SECRET" in checked.stderr
