"""Jane's connection drops and comes back again and again during a burst of messages in both
directions; in the end each side has every message exactly once, in one order, and each
sender's messages in the order they were written."""

import asyncio
import re

from tests.support.chat_client import Browser, ChatClient

BURST = 40  # messages each way
DROP_EVERY = 3  # 13 drops


async def _conversation(base):
    advisor_browser = Browser(base)
    advisor_browser.post("/accounts/login/", "/accounts/login/", {"username": "advisor", "password": "advisor-demo"})
    desk = ChatClient(advisor_browser, "/ws/desk/")
    await desk.connect()
    await desk.socket.send('{"type": "presence.set", "presence": "available"}')
    jane_browser = Browser(base)
    landed = jane_browser.post("/help/start/", "/help/?queue=tax-help", {"queue": "tax-help", "mode": "chat"})
    request_id = int(re.search(r"/help/request/(\d+)/", landed)[1])  # type: ignore[index]
    ringing = await desk.next_event("help.ringing")
    await desk.socket.send(f'{{"type": "help.accept", "request": {ringing["request"]["id"]}}}')
    await desk.next_event("help.conversation")
    desk.request_id = request_id
    jane = ChatClient(jane_browser, f"/ws/help/{request_id}/")
    await jane.connect()
    return jane, desk


async def _everything(client, total, timeout=60):
    deadline = asyncio.get_running_loop().time() + timeout
    while len(client.seen) < total or client.pending:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{len(client.seen)} of {total} seen, {len(client.pending)} pending")
        await asyncio.sleep(0.05)


async def test_it_keeps_every_message_exactly_once_in_order(demo_server):
    jane, desk = await _conversation(demo_server)
    written: list[str] = []  # Jane's, in the order she writes them
    advisors = [f"Advisor {n}: noted" for n in range(BURST)]

    async def jane_writes(text):
        written.append(text)
        await jane.send(text)

    for n in range(BURST):
        await jane_writes(f"Jane {n}: figure {n * 11}")
        await desk.send(advisors[n])
        if n % DROP_EVERY == DROP_EVERY - 1:
            await jane.drop()
            await asyncio.sleep(0.05)
            await jane_writes(f"Jane {n}: written while offline")
            await jane.connect()
        await asyncio.sleep(0.02)
    total = len(written) + BURST
    await _everything(jane, total)
    await _everything(desk, total)
    assert jane.seen == desk.seen  # one order, the same on both sides
    assert sorted(jane.seen) == list(range(1, total + 1))  # every message once, no gaps
    assert [m["body"] for _, m in sorted(jane.seen.items()) if not m["from_advisor"]] == written
    assert [m["body"] for _, m in sorted(desk.seen.items()) if m["from_advisor"]] == advisors
    await jane.close()
    await desk.close()
