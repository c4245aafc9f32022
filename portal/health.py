"""A liveness and readiness probe for load balancers and the process tests."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse

log = logging.getLogger(__name__)


def _database_ok() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return bool(cursor.fetchone() == (1,))


async def _channel_layer_ok() -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False
    # A message to a fresh channel of our own proves the layer accepts and delivers.
    channel = await layer.new_channel()
    marker = uuid.uuid4().hex
    await layer.send(channel, {"type": "health.probe", "marker": marker})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    return bool(message.get("marker") == marker)


async def _check(name: str, probe: Awaitable[bool]) -> bool:
    try:
        return await probe
    except Exception:  # a probe reports failure; it must not turn into a 500
        log.exception("health check %s failed", name)
        return False


async def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": await _check("database", sync_to_async(_database_ok)()),
        "channel_layer": await _check("channel_layer", _channel_layer_ok()),
    }
    healthy = all(checks.values())
    return JsonResponse({"ok": healthy, **checks}, status=200 if healthy else 503)
