"""Run every benchmark against a scratch PostgreSQL database; print the table, write JSON and plots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

from bench import common


def _setup_django(database_url: str) -> None:
    # Production settings: DEBUG would record every query and skew the figures.
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="false",
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-" + "k" * 60,
        ALLOWED_HOSTS="127.0.0.1",
    )
    os.environ.pop("REDIS_URL", None)  # the in-process benchmarks measure the database, not the layer
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], check=True)
    import django

    django.setup()


def main() -> None:
    """`python -m bench [suite ...]`: every suite, or the ones named (assignments, ims, calls, chat, browser, files)."""
    started = time.monotonic()
    with common.scratch_database() as url:
        _setup_django(url)
        from bench import assignments, browser, calls, chat, ims, secure_files

        suites: dict[str, Callable[[], list[common.Result]]] = {
            "assignments": assignments.run, "ims": ims.run, "calls": calls.run, "chat": chat.run,
            "browser": browser.run, "files": secure_files.run,
        }  # fmt: skip
        chosen = sys.argv[1:] or list(suites)
        results = [result for name in chosen for result in suites[name]()]
    print(common.table(results))
    print(f"\nwrote {common.write(results)} and {common.plot(results)} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
