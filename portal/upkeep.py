"""Celery beat's schedule run inside one process, for the demo: with no broker there is no beat,
and identities would never be released nor blocks expired."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)


def _task(path: str) -> Any:
    module, name = path.rsplit(".", 1)
    return getattr(import_module(module), name)


def _run(path: str) -> None:
    try:
        _task(path)()  # a task called directly runs here and now
    except Exception:
        log.exception("periodic task %s failed", path)
    finally:
        close_old_connections()


async def run(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    schedule = {str(entry["task"]): float(str(entry["schedule"])) for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    due = dict.fromkeys(schedule, loop.time())
    while not stop.is_set():
        for path, every in schedule.items():
            if loop.time() >= due[path]:
                await sync_to_async(_run, thread_sensitive=False)(path)
                due[path] = loop.time() + every
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
