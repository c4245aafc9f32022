from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.support import services
from tests.support.processes import demo_portal, portal_env, python, running


@pytest.fixture
def redis_url() -> str:
    return services.redis_url()


@pytest.fixture
def postgres_admin_url() -> str:
    return services.postgres_admin_url()


@pytest.fixture
def channels_prefix() -> str:
    """A Redis key and pub/sub prefix of this test's own, so parallel runs cannot cross-talk."""
    return "test-" + uuid.uuid4().hex[:10]


@pytest.fixture
def daphne_servers(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Starts real daphne processes of the portal; returns each one's base URL once it is healthy."""
    with ExitStack() as stack:

        def start(**env: str) -> str:
            port = services.free_port()
            argv = python("-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application")
            log = tmp_path / f"daphne-{port}.log"
            process = stack.enter_context(running(argv, portal_env(**env), log))
            base = f"http://127.0.0.1:{port}"
            services.wait_for_http(base + "/healthz", alive=process)
            return base

        yield start


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    with demo_portal(tmp_path) as base:
        yield base


@pytest.fixture
def demo_on_kamailio(tmp_path: Path, kamailio: Any) -> Iterator[str]:
    """The demo with Kamailio as its IMS core instead of the stand-in."""
    from tests.support.parts import CREDENTIAL, POINT_AT

    with demo_portal(tmp_path, POINT_AT.format(udp=kamailio.udp), CREDENTIAL, IMS_STANDIN="false") as base:
        yield base


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Close test connections after each request: a kept-alive one in an ASGI worker thread would
    stop the test database from being dropped at the end."""
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict["CONN_MAX_AGE"] = 0


@pytest.fixture
def fresh_database(postgres_admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database of its own; its URL. Dropped afterwards."""
    import uuid

    import psycopg

    name = "portal_fresh_" + uuid.uuid4().hex[:8]
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres_admin_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[object]:
    from tests.support.kamailio import Kamailio

    core = Kamailio(tmp_path).start()
    yield core
    core.stop()


@pytest.fixture
async def close_sync_thread_connections() -> object:
    """Async tests query through asgiref's sync thread; its connection must close there too, or it
    holds the test database open past the run."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
async def registered_guest(kamailio: Any, settings: Any) -> Any:
    """A guest whose identity an IMS side running in this test has registered with Kamailio, with
    one open browser session. Yields (holder, assignment, receive: the session's next event)."""
    from identity_blocks.models import IdentityAssignment
    from ims.service import ImsSide
    from tests.support.ims import guest_with_a_browser, running, until

    settings.IMS_STANDIN = False  # Kamailio is the core, reached through the operator's proxy
    holder, assignment, receive = await guest_with_a_browser(kamailio)
    stop, task = await running(ImsSide())
    await until(IdentityAssignment.objects.filter(pk=assignment.pk, registration_state="registered").exists)
    yield holder, assignment, receive
    stop.set()
    await task
