import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from ims import service
from portal.runtime import tune_gc


class Command(BaseCommand):
    help = "Run the IMS side (SIP toward the IMS core) as its own process, until SIGINT or SIGTERM."

    def handle(self, *args: Any, **options: Any) -> None:
        tune_gc()
        asyncio.run(self._main())

    async def _main(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.run(stop)
