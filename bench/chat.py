"""Chat latency and throughput with many conversations at once, on the production shape (daphne
with the Redis pub/sub layer, PostgreSQL, Kamailio as the IMS core): the portal's chat over the
IMS path and direct, beside a bare Channels relay on the same server and layer in the same run.
Latency runs from a customer's send to the numbered message reaching the advisor's socket."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import websockets
from websockets.typing import Origin

from bench.common import Result
from tests.support.kamailio import DOMAIN, PASSWORD, Kamailio
from tests.support.processes import manage, portal_env, running
from tests.support.services import free_port, wait_for_http

CONVERSATIONS = 30
ADVISORS = 3
MESSAGES = 20  # from each customer
INTERVAL = 0.25  # seconds between one customer's messages: 120 messages/s offered in all


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _setup(kamailio_port: int) -> tuple[list[tuple[int, str]], list[str]]:
    """Conversations accepted by advisors: (request id, customer cookie) pairs and advisor cookies."""
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from help_desk import actions
    from help_desk.models import Advisor, Queue
    from identity_blocks import actions as identity_actions
    from identity_blocks.holders import Holder
    from identity_blocks.models import IdentityBlock, Operator, ServiceAgreement

    # Suites before this one leave identities behind; the IMS side would try to register them all.
    for leftover in IdentityBlock.objects.unexpired():
        identity_actions.expire_block(leftover.pk)
    operator = Operator.objects.create(
        name="Bench core", home_domain=DOMAIN, realm=DOMAIN, outbound_proxy=f"sip:127.0.0.1:{kamailio_port}"
    )
    agreement = ServiceAgreement.objects.create(
        operator=operator, name="Bench", third_party="Bench", max_registrations=10_000, max_sessions=10_000
    )
    definition = {"kind": "sip_range", "pattern": f"sip:chat-{{n}}@{DOMAIN}", "first": 1, "last": 10 * CONVERSATIONS}
    block = IdentityBlock(
        operator=operator, agreement=agreement, name="bench", auth_username=f"bench@{DOMAIN}", **definition
    )
    block = identity_actions.save_block(block)
    identity_actions.set_block_credentials(block.pk, username=f"bench@{DOMAIN}", password=PASSWORD)
    queue = Queue.objects.create(name="Bench", slug="bench", agreement=agreement, identity_block=block)

    def session(**data: Any) -> str:
        store = SessionStore()
        store.update(data)
        store.create()
        return f"sessionid={store.session_key}"

    advisor_cookies = []
    for n in range(ADVISORS):
        user = User.objects.create_user(f"advisor{n}")  # they log in by the session made below
        advisor = Advisor.objects.create(user=user, capacity=CONVERSATIONS, presence="available")
        advisor.queues.add(queue)
        backend = "django.contrib.auth.backends.ModelBackend"
        advisor_cookies.append(session(_auth_user_id=str(user.pk), _auth_user_backend=backend,
                                       _auth_user_hash=user.get_session_auth_hash()))  # fmt: skip
    conversations = []
    for _ in range(CONVERSATIONS):
        key = Holder.new_guest_key()
        request = actions.request_help(Holder.guest(key), queue, "chat", False)
        request.refresh_from_db()
        if request.ringing_advisor is None:
            raise RuntimeError("no advisor was rung")
        actions.accept_request(request.ringing_advisor, request.pk)
        conversations.append((request.pk, session(guest_key=key)))
    return conversations, advisor_cookies


async def _connect(base: str, path: str, cookie: str = "") -> Any:
    headers = {"Cookie": cookie} if cookie else {}
    return await websockets.connect(
        base.replace("http", "ws", 1) + path, origin=Origin(base), additional_headers=headers
    )


async def _measure(senders: list[tuple[Any, Any]], receivers: list[Any], received: Any) -> dict[str, float]:
    """Each sender sends MESSAGES, INTERVAL apart; `received(text)` names the message a frame carries."""
    sent: dict[str, float] = {}
    latencies: list[float] = []

    async def listen(socket: Any) -> None:
        async for frame in socket:
            key = received(frame)
            if key in sent:
                latencies.append(time.perf_counter() - sent.pop(key))

    async def talk(socket: Any, build: Any) -> None:
        for n in range(MESSAGES):
            key = uuid.uuid4().hex
            sent[key] = time.perf_counter()
            await socket.send(build(key, n))
            await asyncio.sleep(INTERVAL)

    listeners = [asyncio.create_task(listen(s)) for s in receivers]
    started = time.perf_counter()
    await asyncio.gather(*(talk(socket, build) for socket, build in senders))
    deadline = time.perf_counter() + 30
    while sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    for task in listeners:
        task.cancel()
    if sent:
        raise RuntimeError(f"{len(sent)} messages never arrived")
    return {"p50": 1000 * statistics.median(latencies), "p99": 1000 * _percentile(latencies, 0.99),
            "rate": len(latencies) / elapsed}  # fmt: skip


async def _bare_relay(base: str) -> dict[str, float]:
    pairs = [
        (await _connect(base, f"/ws/relay/r{n}/"), await _connect(base, f"/ws/relay/r{n}/"))
        for n in range(CONVERSATIONS)
    ]
    await asyncio.sleep(0.5)
    figures = await _measure([(a, lambda key, n: key) for a, _ in pairs], [b for _, b in pairs], lambda frame: frame)
    for a, b in pairs:
        await a.close()
        await b.close()
    return figures


async def _portal_chat(base: str, conversations: list[tuple[int, str]], advisors: list[str]) -> dict[str, float]:
    desks = [await _connect(base, "/ws/desk/", cookie) for cookie in advisors]
    customers = [await _connect(base, f"/ws/help/{request_id}/", cookie) for request_id, cookie in conversations]
    await asyncio.sleep(0.5)

    def build(key: str, n: int) -> str:
        return json.dumps({"type": "chat.send", "client_id": key, "body": f"Question {n} about my figures"})

    def received(text: str) -> str | None:
        frame = json.loads(text)
        message = frame.get("message") or {}
        return message.get("client_id") if frame.get("type") == "chat.message" and message.get("seq") else None

    figures = await _measure([(c, build) for c in customers], desks, received)
    for socket in desks + customers:
        await socket.close()
    return figures


def _serve(workdir: Path, database_url: str, redis_url: str, over_ims: bool) -> Any:
    port = free_port()
    env = portal_env(
        DATABASE_URL=database_url, REDIS_URL=redis_url, CHANNELS_PREFIX="bench" + uuid.uuid4().hex[:6], DEBUG="false",
        SECRET_KEY="bench-" + "k" * 60, ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false", RELAY_BASELINE="true",
        IMS_STANDIN="false", HELP_CHAT_OVER_IMS="true" if over_ims else "false", LOG_LEVEL="warning",
    )  # fmt: skip
    return port, running(manage("serve", "--port", str(port)), env, workdir / f"serve-{port}.log")


async def _all_registered() -> None:
    from asgiref.sync import sync_to_async

    from identity_blocks.models import IdentityAssignment

    def count() -> int:
        mine = IdentityAssignment.objects.live().filter(block__name="bench")
        return mine.exclude(registration_state="registered").count()

    for _ in range(300):
        if await sync_to_async(count)() == 0:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("identities did not register")


def run() -> list[Result]:
    database_url, redis_url = os.environ["DATABASE_URL"], os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        core = Kamailio(workdir).start()
        try:
            conversations, advisors = _setup(core.udp)
            for name, over_ims in (("ims", True), ("direct", False)):
                port, server = _serve(workdir, database_url, redis_url, over_ims)
                with server as process:
                    base = f"http://127.0.0.1:{port}"
                    wait_for_http(base + "/healthz", alive=process, timeout=60)
                    asyncio.run(_all_registered())
                    if name == "ims":
                        figures["relay"] = asyncio.run(_bare_relay(base))
                    figures[name] = asyncio.run(_portal_chat(base, conversations, advisors))
        finally:
            core.stop()
    return _results(figures)


def _results(f: dict[str, dict[str, float]]) -> list[Result]:
    load = f"{CONVERSATIONS} conversations, {CONVERSATIONS / INTERVAL:.0f} msg/s offered"
    name = f"chat ({load})"
    relay = f["relay"]
    return [
        Result(name, "bare Channels relay p50", relay["p50"], "ms"),
        Result(name, "bare Channels relay p99", relay["p99"], "ms"),
        Result(name, "portal direct p50", f["direct"]["p50"], "ms", "bare relay", relay["p50"]),
        Result(name, "portal direct p99", f["direct"]["p99"], "ms", "bare relay", relay["p99"]),
        Result(name, "portal over the IMS p50", f["ims"]["p50"], "ms", "bare relay", relay["p50"]),
        Result(name, "portal over the IMS p99", f["ims"]["p99"], "ms", "bare relay", relay["p99"], "< 100 ms"),
        Result(name, "portal over the IMS throughput", f["ims"]["rate"], "/s", "bare relay", relay["rate"]),
    ]
