"""The portal in its production shape, each part a process of its own that a test may kill and
start again: Redis, daphne, the IMS side (`run_ims`), with PostgreSQL and Kamailio as the core."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import redis

from tests.support.kamailio import DOMAIN, PASSWORD, Kamailio
from tests.support.processes import ROOT, manage, portal_env, python, stop
from tests.support.services import free_port, require_binary, wait_for_http

# The demo's seed, pointed at Kamailio: the operator's proxy, its domain (where the test's phones
# are) among those the agreement reaches, and the block's credential.
POINT_AT = (
    "from identity_blocks.models import Operator, ServiceAgreement; "
    "Operator.objects.update(outbound_proxy='sip:127.0.0.1:{udp}'); "
    f"ServiceAgreement.objects.update(reachable_domains='{DOMAIN}')"
)
CREDENTIAL = (
    "from identity_blocks.models import IdentityBlock as B; from identity_blocks import actions as a; "
    f"b = B.objects.get(); a.set_block_credentials(b.pk, username=b.auth_username, password='{PASSWORD}')"
)


class Redis:
    """A redis-server of the test's own, so that restarting it troubles no other test."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_binary("redis-server")
        self.workdir, self.port = workdir, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Redis:
        argv = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        log = (self.workdir / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(argv, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        _until(lambda: _pings(self.url), f"redis on {self.port}")
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


class Portal:
    """Kamailio, Redis, a fresh database, one daphne and one IMS side; `restart_*` for each."""

    def __init__(self, workdir: Path, database_url: str, **env: str) -> None:
        self.workdir, self.stack = workdir, ExitStack()
        self.core = Kamailio(workdir)
        self.redis = Redis(workdir)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = portal_env(
            DATABASE_URL=database_url, DEBUG="true", IMS_STANDIN="false", CELERY_BROKER_URL="memory://"
        )
        self.env.update(env)
        self.daphne: subprocess.Popen[bytes] | None = None
        self.ims: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Portal:
        try:
            return self._start()
        except BaseException:
            self.stack.close()  # what did start stops again
            raise

    def _start(self) -> Portal:
        self.core.start()
        self.stack.callback(self.core.stop)
        self.redis.start()
        self.stack.callback(self.redis.kill)
        self.env["REDIS_URL"] = self.redis.url
        subprocess.run(manage("migrate", "--noinput", "-v0"), env=self.env, check=True)
        subprocess.run(manage("seed_demo"), env=self.env, check=True, capture_output=True)
        for command in (POINT_AT.format(udp=self.core.udp), CREDENTIAL):
            subprocess.run(manage("shell", "-c", command), env=self.env, check=True, capture_output=True)
        self.start_daphne()
        self.start_ims()
        self.stack.callback(self._stop_servers)
        return self

    def _stop_servers(self) -> None:
        for process in (self.daphne, self.ims):
            if process is not None:
                stop(process)

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def _spawn(self, argv: list[str], name: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start_daphne(self) -> None:
        argv = python("-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "portal.asgi:application")
        self.daphne = self._spawn(argv, "daphne")
        wait_for_http(self.base + "/healthz", alive=self.daphne)

    def start_ims(self) -> None:
        self.ims = self._spawn(manage("run_ims"), "ims")

    def kill_daphne(self) -> None:
        assert self.daphne is not None
        self.daphne.send_signal(signal.SIGKILL)
        self.daphne.wait()

    def stop_ims(self) -> None:
        assert self.ims is not None
        stop(self.ims)

    def restart_redis(self, downtime: float) -> None:
        self.redis.kill()
        time.sleep(downtime)
        self.redis.start()

    def log(self, name: str, lines: int = 40) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up")
