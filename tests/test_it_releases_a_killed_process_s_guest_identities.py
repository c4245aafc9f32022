"""A daphne process killed with SIGKILL closes none of its sockets. Its sessions stop being
vouched for, count as gone after three heartbeats, are swept by beat's schedule, and its guests'
identities are released after the grace period; a guest on a process still running keeps hers."""

import asyncio
import re
import signal
from contextlib import ExitStack
from datetime import timedelta
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone

from help_desk.models import HelpRequest
from identity_blocks import actions
from identity_blocks.holders import Holder
from identity_blocks.models import HolderSession, IdentityAssignment
from portal import upkeep
from tests.factories import make_queue
from tests.support import services
from tests.support.chat_client import Browser, ChatClient
from tests.support.processes import portal_env, python, running

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_sync_thread_connections")]

HEARTBEAT, GRACE = 1, 2


def _this_database() -> str:
    """The test database as a URL, for the daphne processes to share it."""
    if connection.vendor != "postgresql":
        services.unavailable("two daphne processes need the test database on PostgreSQL")
    db = connection.settings_dict
    user = quote(db["USER"] or "postgres") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def two_daphnes(tmp_path, settings):
    """(base URL, process) of two daphne processes on this test's database."""
    settings.IDENTITY_SESSION_HEARTBEAT_SECONDS, settings.IDENTITY_GUEST_GRACE_SECONDS = HEARTBEAT, GRACE
    env = portal_env(
        DATABASE_URL=_this_database(),
        DEBUG="true",
        IDENTITY_SESSION_HEARTBEAT_SECONDS=str(HEARTBEAT),
        IDENTITY_GUEST_GRACE_SECONDS=str(GRACE),
    )
    ports = services.free_port(), services.free_port()
    with ExitStack() as stack:
        servers = []
        for port in ports:
            argv = python("-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application")
            process = stack.enter_context(running(argv, env, tmp_path / f"daphne-{port}.log"))
            services.wait_for_http(f"http://127.0.0.1:{port}/healthz", alive=process)
            servers.append((f"http://127.0.0.1:{port}", process))
        yield servers


async def _guest_on(base: str, queue_slug: str) -> tuple[ChatClient, Holder]:
    """A guest asks for help on the help page and opens its socket, as the page's script does."""
    browser = Browser(base)
    form = f"/help/?queue={queue_slug}"
    landed = await asyncio.to_thread(browser.post, "/help/start/", form, {"queue": queue_slug, "mode": "chat"})
    found = re.search(r"/help/request/(\d+)/", landed)
    assert found is not None, landed
    request_id = int(found[1])
    client = ChatClient(browser, f"/ws/help/{request_id}/")
    await client.connect()
    await client.next_event("help.request")  # joined: the session row is written before accept
    request = await HelpRequest.objects.aget(pk=request_id)
    return client, Holder.of(request)


async def _until(predicate, what: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await sync_to_async(predicate)():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)


def _identity(holder: Holder) -> IdentityAssignment:
    return IdentityAssignment.objects.of(holder).get()


async def test_it_releases_the_identity_of_a_guest_whose_process_was_killed(two_daphnes, settings):
    (a, daphne_a), (b, _) = two_daphnes
    queue = await sync_to_async(make_queue)(10)
    _, jane = await _guest_on(a, queue.slug)
    bob_socket, bob = await _guest_on(b, queue.slug)

    daphne_a.send_signal(signal.SIGKILL)
    await asyncio.to_thread(daphne_a.wait, 10)
    killed_at = timezone.now()
    # Nothing has closed Jane's session; it stops counting once A has missed three heartbeats.
    await _until(lambda: not actions.has_open_session(jane), "Jane's session no longer counts")
    assert await HolderSession.objects.filter(guest_key=jane.guest_key).aexists()
    assert await sync_to_async(actions.has_open_session)(bob)  # B is alive: Bob still counts
    assert (await sync_to_async(_identity)(jane)).release_after is None  # the grace has not begun

    # Beat's schedule, run as `serve` runs it without a broker, each task as often as it can.
    settings.CELERY_BEAT_SCHEDULE = {n: {**e, "schedule": 0.1} for n, e in settings.CELERY_BEAT_SCHEDULE.items()}
    stop = asyncio.Event()
    beat = asyncio.create_task(upkeep.run(stop))
    try:
        await _until(lambda: _identity(jane).released_at is not None, "Jane's identity released")
    finally:
        stop.set()
        await beat
    released = await sync_to_async(_identity)(jane)
    assert released.release_reason == "guest session ended"
    assert released.released_at is not None
    assert released.release_after is not None
    # The grace counted from when the session expired, after the kill.
    assert released.released_at >= released.release_after >= killed_at + timedelta(seconds=GRACE)
    assert not await HolderSession.objects.filter(guest_key=jane.guest_key).aexists()

    bobs = await sync_to_async(_identity)(bob)
    assert (bobs.released_at, bobs.release_after) == (None, None)
    assert (await HolderSession.objects.aget(guest_key=bob.guest_key)).seen_at > killed_at
    assert await sync_to_async(actions.has_open_session)(bob)
    await bob_socket.close()
    await _until(lambda: _identity(bob).release_after is not None, "Bob's grace begins when he leaves")
