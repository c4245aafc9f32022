"""Generated frames, well-formed and not, for every event type of every browser socket.

The edge (decoding and each type's schema) takes 10,000 frames per event type: each is refused
with a reason or read into fields every store takes (text without NUL or lone surrogates,
integers within 64 bits, nothing msgpack refuses). The sockets themselves, through Channels'
communicator on the in-memory layer, take fewer (a few hundred per socket kind; a frame there
costs database round trips): no handler fails, and no socket is closed for what a frame says."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
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

EDGE_FRAMES = 10_000
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
EDGE_BATCH = 200


def _names(schema: frames.Schema) -> list[str]:
    return [str(name) for name in schema().fields]


def _schemas(kind: str) -> list[frames.Schema]:
    """The type's schema on each socket that takes it (the desk's names the request too)."""
    return list({table[kind] for table in TABLES if kind in table})


def _read(schemas: list[frames.Schema], text: str) -> int:
    """How many of the schemas read the frame; each refusal has a reason."""
    try:
        content = decoded(text)
    except UnusableFrame as unusable:
        return _refused(str(unusable))
    if not frames.usable_ref(content.get("ref")):
        return 0
    read = 0
    for schema in schemas:
        fields = frames.checked(schema, content)
        if isinstance(fields, str):
            assert fields
        else:
            _encodable(fields)
            read += 1
    return read


def _refused(reason: str) -> int:
    assert reason
    return 0


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_it_reads_or_refuses_every_generated_frame_at_the_edge(kind: str) -> None:
    schemas = _schemas(kind)
    fields = sorted({name for schema in schemas for name in _names(schema)})
    seen = {"frames": 0, "read": 0}

    @settings(max_examples=EDGE_FRAMES // EDGE_BATCH, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.lists(_frame(kind, fields), min_size=EDGE_BATCH, max_size=EDGE_BATCH))
    def edge(texts: list[str]) -> None:
        for text in texts:
            seen["read"] += _read(schemas, text)
        seen["frames"] += len(texts)

    edge()
    assert seen["frames"] >= EDGE_FRAMES
    assert seen["read"] > 0  # the generator reaches the handlers too


SOCKET_BATCHES = 16  # examples per socket kind, each a batch of frames on one connection
BATCH = 50
SERVER_FAILURE = "the server could not handle this event; try again"


def _any_frame(schemas: Mapping[str, frames.Schema], requests: tuple[int, ...]) -> st.SearchStrategy[str]:
    return st.one_of([_frame(kind, _names(schema), requests) for kind, schema in schemas.items()])


async def _exchange(path: str, scope: dict[str, Any], texts: list[str]) -> list[dict[str, Any]]:
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    socket.scope.update(scope)
    connected, _ = await socket.connect()
    assert connected
    for text in texts:
        await socket.send_input({"type": "websocket.receive", "text": text})  # "" too, as a browser may
    await socket.send_to(text_data=json.dumps({"type": "ice.refresh", "ref": "last"}))
    answers = []
    while True:
        output = await socket.receive_output(timeout=10)
        assert output["type"] == "websocket.send", output  # never websocket.close: the socket lives
        answers.append(json.loads(output["text"]))
        if answers[-1].get("ref") == "last" and answers[-1]["type"] in ("ice.servers", "error"):
            break
    await socket.disconnect()
    return answers


def _fuzz_socket(
    path: str, scope: dict[str, Any], schemas: Mapping[str, frames.Schema], requests: tuple[int, ...] = ()
) -> int:
    sent = {"frames": 0}

    @settings(max_examples=SOCKET_BATCHES, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.lists(_any_frame(schemas, requests), min_size=BATCH, max_size=BATCH))
    def batch(texts: list[str]) -> None:
        answers = async_to_sync(_exchange)(path, scope, texts)
        assert not [a for a in answers if a.get("reason") == SERVER_FAILURE]
        sent["frames"] += len(texts)

    batch()
    return sent["frames"]


@pytest.fixture
def _quiet_and_fast(settings: Any, caplog: pytest.LogCaptureFixture) -> Any:
    settings.HELP_CHAT_OVER_IMS = False
    settings.WS_FRAMES_PER_SECOND = settings.WS_FRAME_BURST = 100_000
    caplog.set_level(logging.ERROR)
    yield
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a handler failed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_quiet_and_fast")
def test_it_keeps_every_socket_open_through_generated_frames() -> None:
    request, jane, _ = make_conversation(make_queue())
    guest = {"user": AnonymousUser(), "session": {"guest_key": jane.guest_key}}
    sent = _fuzz_socket(f"/ws/help/{request.pk}/", guest, frames.HELP)
    sent += _fuzz_socket("/ws/desk/", {"user": request.advisor.user, "session": {}}, frames.DESK, (request.pk,))
    sent += _fuzz_socket("/ws/client/", {"user": make_user("mary"), "session": {}}, frames.CLIENT)
    assert sent == 3 * SOCKET_BATCHES * BATCH
