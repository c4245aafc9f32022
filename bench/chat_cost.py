"""Statements and CPU per chat message on the real paths, in one process, with the in-memory layer
(docs/BENCHMARKS.md, "What limits them"). A measurement, not a test; on a test database:

    pytest -s -p no:cacheprovider bench/chat_cost.py

MEASURE_N messages (2000), MEASURE_CONVS conversations (10), MEASURE_WINDOW in flight (4);
MEASURE_PROFILE=1 profiles the event loop, MEASURE_PROFILE_DB=1 the group commit's database
thread (thread CPU time)."""

import asyncio
import cProfile
import json
import os
import pstats
import time

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from help_desk.chat import Post, post_messages
from help_desk.models import ChatMessage
from help_desk.routing import websocket_urlpatterns
from identity_blocks import actions as identity_actions
from ims import actions as ims_actions
from ims.models import PagerMessage
from portal import broadcast
from tests.factories import make_conversation, make_queue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]


@pytest.fixture
async def close_sync_thread_connections():
    """The sync thread's connection closes there, or it holds the test database open."""
    from django.db import connections

    yield
    await sync_to_async(connections.close_all)()


N = int(os.environ.get("MEASURE_N", "2000"))
CONVS = int(os.environ.get("MEASURE_CONVS", "10"))
WINDOW = int(os.environ.get("MEASURE_WINDOW", "4"))


def _posted(outcome: ChatMessage | Exception) -> ChatMessage:
    assert isinstance(outcome, ChatMessage), outcome
    return outcome


def _show(label, queries, messages):
    print(f"\n{label}: {len(queries)} statements for {messages} message(s)")
    for q in queries:
        print("   ", q["sql"][:160])


def _conversations(n):
    queue = make_queue(size=4 * n + 10)
    made = [make_conversation(queue, f"adv{i}") for i in range(n)]
    for request, jane, alex in made:
        identity_actions.session_opened(jane, f"jane-{request.pk}")
        identity_actions.session_opened(alex, f"alex-{request.pk}")
    return made


def test_statements(settings):
    settings.HELP_CHAT_OVER_IMS = False
    convs = _conversations(5)
    (r0, j0, _a0) = convs[0]
    post_messages([Post(r0.pk, j0, "warm", "w0")])
    with CaptureQueriesContext(connection) as q:
        post_messages([Post(r0.pk, j0, "Hello", "d1")])
    _show("direct, batch of 1", q, 1)
    batch = [Post(r.pk, j, f"m{i}", f"b{i}") for i in range(2) for r, j, _ in convs]
    with CaptureQueriesContext(connection) as q:
        post_messages(batch)
    _show("direct, batch of 10 over 5 conversations", q, 10)
    settings.HELP_CHAT_OVER_IMS = True
    for size in (1, 10):
        posts = [Post(r.pk, j, f"i{i}", f"ims{size}-{i}") for i in range(2) for r, j, _ in convs][:size]
        with CaptureQueriesContext(connection) as q:
            sent = [_posted(outcome) for outcome in post_messages(posts)]
        _show(f"over the IMS, post, batch of {size}", q, size)
        pagers = [PagerMessage.objects.get(chat_sent=c) for c in sent]
        inbound = [
            ims_actions.Inbound(p.remote_uri, p.local_impu, "text/plain", p.body.encode(), p.sip_call_id, 1)
            for p in pagers
        ]
        with CaptureQueriesContext(connection) as q:
            received = ims_actions.receive_messages(inbound)
        assert all(d == ims_actions.Delivery.STORED for d, _ in received), received
        _show(f"over the IMS, arrival, batch of {size}", q, size)
        with CaptureQueriesContext(connection) as q:
            ims_actions.message_outcomes([ims_actions.Outcome(p.pk, 200, "OK") for p in pagers])
        _show(f"over the IMS, outcome, batch of {size}", q, size)
        assert all(ChatMessage.objects.get(pk=c.pk).seq for c in sent)


def test_cpu_of_the_ims_actions(settings):
    """The database-thread work of chat over the IMS, batches of one: post, arrival, outcome."""
    settings.HELP_CHAT_OVER_IMS = True
    convs = _conversations(CONVS)
    n = N // 4
    profile = cProfile.Profile(time.thread_time)
    if os.environ.get("MEASURE_PROFILE"):
        profile.enable()
    sends: list = []  # as the servers' group commits do: events gathered, published from the loop
    gathering = broadcast.gathered(sends)
    gathering.__enter__()
    spent = {"post": 0.0, "arrival": 0.0, "outcome": 0.0}
    for i in range(n):
        r, j, _ = convs[i % len(convs)]
        t = time.process_time()
        chat = _posted(post_messages([Post(r.pk, j, f"message {i}", f"c{i}")])[0])
        spent["post"] += time.process_time() - t
        p = PagerMessage.objects.get(chat_sent=chat)
        t = time.process_time()
        ims_actions.receive_messages(
            [ims_actions.Inbound(p.remote_uri, p.local_impu, "text/plain", p.body.encode(), p.sip_call_id, 1)]
        )
        spent["arrival"] += time.process_time() - t
        t = time.process_time()
        ims_actions.message_outcomes([ims_actions.Outcome(p.pk, 200, "OK")])
        spent["outcome"] += time.process_time() - t
        sends.clear()
    gathering.__exit__(None, None, None)
    profile.disable()
    if os.environ.get("MEASURE_PROFILE"):
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(70)
    print(
        f"\nIMS actions, CPU per message over {n}: " + ", ".join(f"{k} {v / n * 1000:.3f} ms" for k, v in spent.items())
    )


async def _socket(path, **scope):
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    socket.scope.update(**scope)
    assert (await socket.connect())[0]
    return socket


async def _drain(socket, until):
    while True:
        event = json.loads(await socket.receive_from(timeout=10))
        if os.environ.get("MEASURE_DEBUG"):
            print(event)
        if event["type"] == until:
            return event


async def test_cpu_per_direct_message_through_the_consumers(settings):
    settings.HELP_CHAT_OVER_IMS = False
    settings.WS_FRAMES_PER_SECOND = settings.WS_FRAME_BURST = 1_000_000
    convs = await sync_to_async(_conversations)(CONVS)
    pairs = []
    for request, jane, alex in convs:
        user = await sync_to_async(User.objects.get)(pk=alex.user_id)
        j = await _socket(f"/ws/help/{request.pk}/", user=AnonymousUser(), session={"guest_key": jane.guest_key})
        await _drain(j, "help.request")
        a = await _socket("/ws/desk/", user=user, session={})
        await _drain(a, "desk.state")
        pairs.append((request.pk, j, a))

    async def converse(k, count, tag=""):
        _, j, a = pairs[k % len(pairs)]
        for i in range(count):
            frame = {"type": "chat.send", "client_id": f"{tag}k{k}-{i}", "body": f"message {i} of sender {k}"}
            await j.send_to(text_data=json.dumps(frame))
            await _drain(j, "chat.message")
            await _drain(a, "chat.message")

    from django.db import connections

    from help_desk import conversation

    connections.settings["default"]["CONN_MAX_AGE"] = 60  # production's (tests close at once)
    db_profile = cProfile.Profile(time.thread_time)
    original = conversation.POSTING.function

    def profiled(posts):
        db_profile.enable()
        try:
            return original(posts)
        finally:
            db_profile.disable()

    if os.environ.get("MEASURE_PROFILE_DB"):
        conversation.POSTING.function = profiled
    await converse(0, 20, "warm")
    profile = cProfile.Profile(time.thread_time) if os.environ.get("MEASURE_PROFILE") else None
    capture = CaptureQueriesContext(await sync_to_async(lambda: connections["default"])())
    await sync_to_async(capture.__enter__)()
    per = N // WINDOW
    t, w = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    await asyncio.gather(*(converse(k, per) for k in range(WINDOW)))
    if profile:
        profile.disable()
    cpu, wall = time.process_time() - t, time.perf_counter() - w
    total = per * WINDOW
    await sync_to_async(capture.__exit__)(None, None, None)
    print(f"\nstatements in the database thread: {len(capture) / total:.2f} a message")
    kinds: dict[str, int] = {}
    for q in capture.captured_queries:
        kinds[q["sql"][:40]] = kinds.get(q["sql"][:40], 0) + 1
    print(sorted(kinds.items(), key=lambda kv: -kv[1])[:8])
    print(
        f"\ndirect through the consumers: {total} messages, {WINDOW} in flight:"
        f" CPU {cpu / total * 1000:.3f} ms a message, wall {wall / total * 1000:.3f} ms"
    )
    if profile:
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
    if os.environ.get("MEASURE_PROFILE_DB"):
        conversation.POSTING.function = original
        stats = pstats.Stats(db_profile)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(30)
    connections.settings["default"]["CONN_MAX_AGE"] = 0
    for _, j, a in pairs:
        await j.disconnect()
        await a.disconnect()
    assert await sync_to_async(ChatMessage.objects.count)() == total + 20
    for request_id, _, _ in pairs:
        seqs = await sync_to_async(
            lambda r=request_id: list(
                ChatMessage.objects.filter(request_id=r).order_by("seq").values_list("seq", flat=True)
            )
        )()
        assert seqs == list(range(1, len(seqs) + 1))
