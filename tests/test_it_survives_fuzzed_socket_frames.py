"""Generated frames, well-formed and not, 10,000 for every event type, sent to the browser sockets
that take it (Channels' communicator, the in-memory layer, PostgreSQL): at the edge each is
refused with a reason or read into fields every store takes (text without NUL or lone surrogates,
integers within 64 bits, nothing msgpack refuses); then the socket answers it, no handler fails,
and no socket is closed for what a frame says. Some frames name a conversation that exists, so
that handlers act on real rows (the desk's and the guest's own)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from math import ceil
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from help_desk import frames
from help_desk.sockets import UnusableFrame, decoded
from portal.routing import websocket_urlpatterns
from portal.text import storable
from tests.factories import make_conversation, make_queue, make_user

NASTY_RAW = [
    "Infinity", "-Infinity", "NaN", "1e999", "-1e999", "9" * 25, "9" * 5000, "1.5", "-0", "true", "null", "{}", "[]",
    '"\\u0000"', '"\\ud800"', "[" * 40 + "]" * 40, '{"a":' * 30 + "1" + "}" * 30, str(2**63), str(2**64), str(-(2**63)),
]  # fmt: skip
# Values at and past every edge a field has: types, NUL and surrogates, lengths, 32 and 64 bits.
POOL: list[Any] = [
    None, True, False, 0, -1, 1, 7, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 1.5, -0.0, 1e308, 3.0,
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "x" * 64, "x" * 65, "x" * 4000, "x" * 4001, "é" * 2000,
    "\r\n" * 3, "1", "99", "available", "offline", "sip:help@ims.example.net", "tel:+15551234", "v=0\r\n", "🙂",
    [], [1], ["a", 1], ["x"] * 201, [[[]]], {}, {"a": 1}, {"codec": "opus", "kbps": 31.5}, {"jitterMs": "x"},
    {"packetsLost": 2**70}, {"codec": "\x00"}, {"seconds": None},
]  # fmt: skip
values = st.one_of(
    st.sampled_from(POOL), st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=12), st.floats()
)


# A field that is itself an object: its own fields, at and past their edges, or anything.
SHAPED = {"summary": st.dictionaries(st.sampled_from([*frames.Quality().fields, "other"]), values, max_size=4) | values}


def _frame(kind: str, fields: list[str], requests: tuple[int, ...] = ()) -> st.SearchStrategy[str]:
    """A frame of this type: its fields (some left out) with values at and past their edges,
    a stray field, any ref; or a field given a token JSON should not carry; or no JSON at all.
    `requests`: ids of rows that exist, so that some frames reach a real conversation."""
    known = {"request": st.sampled_from(requests) | values} if requests else {}
    shaped = {name: SHAPED[name] for name in fields if name in SHAPED}
    present = st.fixed_dictionaries({}, optional={**dict.fromkeys(fields, values), **shaped, **known})
    extra = st.dictionaries(st.sampled_from(["x", "type", "__proto__"]), values, max_size=1)
    ref = st.one_of(st.none(), st.integers(-(2**66), 2**66), st.text(max_size=8), st.sampled_from(POOL))
    structured = st.builds(lambda p, e, r: {**e, **p, "type": kind, "ref": r}, present, extra, ref)
    names, tokens = st.sampled_from([*fields, "ref", "type"]), st.sampled_from(NASTY_RAW)
    raw = st.builds(lambda n, v: f'{{"type": {json.dumps(kind)}, {json.dumps(n)}: {v}}}', names, tokens)
    return st.one_of(structured.map(json.dumps), structured.map(json.dumps), raw, st.text(max_size=12))


def _encodable(fields: Mapping[str, Any]) -> None:
    """What a handler gets goes to PostgreSQL and the channel layer as it is."""
    msgpack.packb(dict(fields))
    json.dumps(dict(fields), allow_nan=False)
    for value in _leaves(fields):
        assert not isinstance(value, str) or storable(value), value
        assert not isinstance(value, int) or abs(value) < 2**63, value


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


TABLES = (frames.CLIENT, frames.HELP, frames.DESK)
EVENT_TYPES = sorted({kind for table in TABLES for kind in table})
FRAMES_PER_TYPE = 10_000
BATCH = 200  # frames on one connection
SERVER_FAILURE = "the server could not handle this event; try again"


@dataclass(frozen=True)
class Socket:
    path: str
    scope: dict[str, Any]
    table: Mapping[str, frames.Schema]
    requests: tuple[int, ...] = ()  # rows a frame may name


def _sockets() -> list[Socket]:
    """The guest's help page, the advisor's desk and Mary's page, over one open conversation."""
    request, jane, _ = make_conversation(make_queue())
    guest = {"user": AnonymousUser(), "session": {"guest_key": jane.guest_key}}
    return [
        Socket(f"/ws/help/{request.pk}/", guest, frames.HELP),
        Socket("/ws/desk/", {"user": request.advisor.user, "session": {}}, frames.DESK, (request.pk,)),
        Socket("/ws/client/", {"user": make_user("mary"), "session": {}}, frames.CLIENT),
    ]


def _read(schema: frames.Schema, text: str) -> int:
    """1 if the schema reads the frame into storable fields, 0 if refused (each refusal has a reason)."""
    try:
        content = decoded(text)
    except UnusableFrame as unusable:
        return _refused(str(unusable))
    if not frames.usable_ref(content.get("ref")):
        return 0
    fields = frames.checked(schema, content)
    if isinstance(fields, str):
        return _refused(fields)
    _encodable(fields)
    return 1


def _refused(reason: str) -> int:
    assert reason
    return 0


async def _exchange(socket: Socket, texts: list[str]) -> list[dict[str, Any]]:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), socket.path)
    communicator.scope.update(socket.scope)
    connected, _ = await communicator.connect()
    assert connected
    for text in texts:
        await communicator.send_input({"type": "websocket.receive", "text": text})  # "" too, as a browser may
    await communicator.send_to(text_data=json.dumps({"type": "ice.refresh", "ref": "last"}))
    answers = []
    while True:
        output = await communicator.receive_output(timeout=10)
        assert output["type"] == "websocket.send", output  # never websocket.close: the socket lives
        answers.append(json.loads(output["text"]))
        if answers[-1].get("ref") == "last" and answers[-1]["type"] in ("ice.servers", "error"):
            break
    await communicator.disconnect()
    return answers


def _fuzz(socket: Socket, kind: str, count: int, seen: dict[str, int]) -> None:
    schema = socket.table[kind]

    @settings(max_examples=ceil(count / BATCH), deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.lists(_frame(kind, _names(schema), socket.requests), min_size=BATCH, max_size=BATCH))
    def batch(texts: list[str]) -> None:
        seen["read"] += sum(_read(schema, text) for text in texts)
        answers = async_to_sync(_exchange)(socket, texts)
        assert not [answer for answer in answers if answer.get("reason") == SERVER_FAILURE]
        seen["frames"] += len(texts)

    batch()


def _names(schema: frames.Schema) -> list[str]:
    return [str(name) for name in schema().fields]


@pytest.fixture
def _quiet_and_fast(settings: Any, caplog: pytest.LogCaptureFixture) -> Any:
    settings.HELP_CHAT_OVER_IMS = False
    settings.WS_FRAMES_PER_SECOND = settings.WS_FRAME_BURST = 100_000
    caplog.set_level(logging.ERROR)
    yield
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a handler failed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_quiet_and_fast")
@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_every_socket_that_takes_a_type_answers_generated_frames_of_it_and_stays_open(kind: str) -> None:
    takers = [socket for socket in _sockets() if kind in socket.table]
    seen = {"frames": 0, "read": 0}
    for socket in takers:
        _fuzz(socket, kind, ceil(FRAMES_PER_TYPE / len(takers)), seen)
    assert seen["frames"] >= FRAMES_PER_TYPE
    assert seen["read"] > 0  # the generator reaches the handlers too
