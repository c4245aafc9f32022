"""One command for every process the portal needs, stopped together by one Ctrl-C.

The ASGI server and the IMS side share one asyncio loop here: with the demo's in-memory channel
layer they could not talk across processes. With a Redis broker it also supervises a Celery worker
with beat; without one, beat's schedule runs on the same loop. Production runs these as separate
processes instead (see README, "Production").
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from ims.gateway import DEMO_MEDIA_PORTS, RtpEngineProcess
from ims.rtpengine import use_local_gateway
from portal import turn
from portal.coturn import DEMO_RELAY_PORTS, Coturn
from portal.daemons import free_udp_port
from portal.env import env_int


class Command(BaseCommand):
    help = "Run the ASGI server, the IMS side and (with a broker) a Celery worker, until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=env_int("PORT", 8000, minimum=1, maximum=65535))
        parser.add_argument("--no-ims", action="store_true", help="do not run the IMS side in this process")

    def handle(self, *args: Any, **options: Any) -> None:
        # Imported here: it installs Twisted's asyncio reactor, which must happen before any other.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from twisted.internet import defer, reactor

        from portal.asgi import application

        worker = None if settings.CELERY_TASK_ALWAYS_EAGER else self._start_worker()
        relay = self._start_relay()
        gateway = None if options["no_ims"] else self._start_gateway()
        stop = asyncio.Event()
        if not options["no_ims"]:
            cast(Any, reactor).callWhenRunning(self._start, stop, defer, "ims.service")
        if worker is None:  # no broker, no beat: its schedule runs here
            cast(Any, reactor).callWhenRunning(self._start, stop, defer, "portal.upkeep")
        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=options["host"], port=options["port"]),
            signal_handlers=True,
            ready_callable=lambda: self.stdout.write(f"Portal at http://{options['host']}:{options['port']}/"),
        )
        try:
            server.run()
        finally:
            self._stop_worker(worker)
            if relay is not None:
                relay.stop()
                shutil.rmtree(relay.workdir, ignore_errors=True)
            if gateway is not None:
                gateway.stop()
                shutil.rmtree(gateway.workdir, ignore_errors=True)

    def _start(self, stop: asyncio.Event, defer: Any, module: str) -> None:
        """Run `module.run(stop)` on the server's loop until the reactor shuts down."""
        from importlib import import_module

        from twisted.internet import reactor

        task = asyncio.ensure_future(import_module(module).run(stop))

        def shutdown() -> Any:
            stop.set()
            return defer.Deferred.fromFuture(task)

        cast(Any, reactor).addSystemEventTrigger("before", "shutdown", shutdown)

    def _start_relay(self) -> Coturn | None:
        """Where coturn is installed and no TURN server is configured, the demo runs its own on
        loopback; calls between browsers on one machine work without it too."""
        binary = shutil.which("turnserver")
        if binary is None or settings.TURN_URLS:
            return None
        relay = Coturn(Path(tempfile.mkdtemp(prefix="portal-coturn-")), free_udp_port(), DEMO_RELAY_PORTS)
        try:
            relay.start(binary)
        except (OSError, RuntimeError, TimeoutError) as error:
            self.stderr.write(f"coturn did not start, the demo runs without TURN: {error}")
            return None
        turn.use_local_relay(relay.urls, relay.secret)
        self.stdout.write(f"TURN relay (coturn) at {relay.urls[0]}, log in {relay.log_path}")
        return relay

    def _start_gateway(self) -> RtpEngineProcess | None:
        """Where rtpengine is installed and none is configured, the demo runs its own on loopback
        for calls that need their media converted; pass-through calls work without it."""
        binary = shutil.which("rtpengine")
        if binary is None or settings.IMS_RTPENGINE_NG:
            return None
        workdir = Path(tempfile.mkdtemp(prefix="portal-rtpengine-"))
        gateway = RtpEngineProcess(workdir, free_udp_port(), DEMO_MEDIA_PORTS)
        try:
            gateway.start(binary)
        except (OSError, RuntimeError, TimeoutError) as error:
            self.stderr.write(f"rtpengine did not start, the demo converts no media: {error}")
            return None
        use_local_gateway(gateway.address)
        self.stdout.write(f"Media gateway (rtpengine) at 127.0.0.1:{gateway.ng_port}, log in {gateway.log_path}")
        return gateway

    def _start_worker(self) -> subprocess.Popen[bytes]:
        self.stdout.write("Starting a Celery worker with beat")
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--beat", "--loglevel=INFO"]
        return subprocess.Popen([*command, "--schedule", str(settings.BASE_DIR / ".celerybeat-schedule")])

    def _stop_worker(self, worker: subprocess.Popen[bytes] | None) -> None:
        if worker is None or worker.poll() is not None:
            return
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
