"""Real services for the tests: found, or the test fails under CI and skips (with the reason) locally."""

from __future__ import annotations

import os
import shutil
import socket
import time
import urllib.request
from urllib.error import URLError

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """CI must never skip for want of a service: there, a missing one is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service is a failure)")
    pytest.skip(reason)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (make test installs it as root on Debian)")
    assert path is not None
    return path


def redis_url() -> str:
    import redis

    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        unavailable(f"Redis is not reachable at {url}: {error}")
    return url


def postgres_admin_url() -> str:
    """A URL to an existing PostgreSQL database, from which tests may create their own."""
    import psycopg

    configured = os.environ.get("DATABASE_URL", "")
    default = "postgres://postgres@127.0.0.1:5432/postgres"
    url = os.environ.get("TEST_POSTGRES_URL") or (configured if configured.startswith("postgres") else default)
    url = url.rsplit("/", 1)[0] + "/postgres"
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as error:
        unavailable(f"PostgreSQL is not reachable at {url}: {error}")
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 30.0, alive: object = None) -> None:
    """Poll `url` until it answers 200; `alive` (a Popen) ends the wait early if it has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:  # type: ignore[attr-defined]
            raise RuntimeError(f"the server for {url} exited with {alive.poll()}")  # type: ignore[attr-defined]
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback URL we built)
                if response.status == 200:
                    return
        except (URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")
