"""The IMS-side process: one asyncio service per process, shard i of n of the assigned identities.

It meets the Django side only through the channel layer and the apps' actions. In the demo it runs
inside the `serve` process (the in-memory channel layer does not cross processes); in production
each `manage.py run_ims` is its own process on the shared Redis layer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from django.conf import settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImsConfig:
    outbound_proxy: str
    transport: str
    listen_host: str
    listen_port: int
    shard_index: int
    shard_count: int

    @property
    def uses_standin(self) -> bool:
        return not self.outbound_proxy

    @classmethod
    def from_settings(cls) -> ImsConfig:
        return cls(
            outbound_proxy=settings.IMS_OUTBOUND_PROXY,
            transport=settings.IMS_TRANSPORT,
            listen_host=settings.IMS_LISTEN_HOST,
            listen_port=settings.IMS_LISTEN_PORT,
            shard_index=settings.IMS_SHARD_INDEX,
            shard_count=settings.IMS_SHARD_COUNT,
        )

    def describe(self) -> str:
        core = "stand-in IMS core on loopback" if self.uses_standin else f"outbound proxy {self.outbound_proxy}"
        return f"IMS side shard {self.shard_index + 1}/{self.shard_count} via {core} over {self.transport}"


async def run(stop: asyncio.Event, config: ImsConfig | None = None) -> None:
    """Serve until `stop` is set. Registration, chat and calls attach here (IMS connector issue)."""
    config = config or ImsConfig.from_settings()
    log.info("%s: ready", config.describe())
    await stop.wait()
    log.info("%s: stopped", config.describe())
