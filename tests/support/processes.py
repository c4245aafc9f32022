"""Start real processes of the portal (daphne, manage.py commands, celery) and stop them again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Variables of the test run that must not leak into a child: each child gets exactly the
# services its test chose.
_SCRUBBED = ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "IMS_OUTBOUND_PROXY")


def portal_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", PYTHONUNBUFFERED="1")
    env.update(overrides)
    return env


@contextmanager
def running(argv: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run argv for the duration of the block; its output goes to log_path, shown if the test fails."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def manage(*args: str) -> list[str]:
    return python(str(ROOT / "manage.py"), *args)


@contextmanager
def demo_portal(workdir: Path, *setup: str, **env_overrides: str) -> Iterator[str]:
    """The demo as `make run` starts it (migrate, seed, serve) on a fresh SQLite file, with each
    of `setup` run in `manage.py shell` before serving; yields its base URL once it is healthy."""
    from tests.support.services import free_port, wait_for_http

    # Its own stand-in core port, so that demos of parallel tests cannot meet.
    env = portal_env(DATABASE_URL=f"sqlite:///{workdir / 'demo.sqlite3'}", IMS_STANDIN_PORT=str(free_port()))
    env["DEBUG"] = "true"  # the demo is a DEBUG portal, whatever the caller's environment says
    env["MEDIA_ROOT"] = str(workdir / "media")  # its uploads (the queue's logo) apart from other demos'
    env.update(env_overrides)
    subprocess.run(manage("migrate", "--noinput", "-v0"), env=env, check=True)
    subprocess.run(manage("seed_demo"), env=env, check=True, capture_output=True)
    for command in setup:
        subprocess.run(manage("shell", "-c", command), env=env, check=True, capture_output=True)
    port = free_port()
    with running(manage("serve", "--port", str(port)), env, workdir / "serve.log") as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/healthz", alive=process)
        yield base


def demo_call_endings(workdir: Path) -> list[str]:
    """How each call of a demo_portal ended, as its records say (sorted)."""
    import sqlite3

    with sqlite3.connect(workdir / "demo.sqlite3") as db:
        return sorted(reason for (reason,) in db.execute("SELECT end_reason FROM ims_callrecord"))
