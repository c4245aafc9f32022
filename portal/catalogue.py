"""When the compiled catalogues last changed, for the browser client's catalogue's Last-Modified."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest


def compiled_at(request: HttpRequest) -> datetime | None:
    """The newest compiled catalogue's time: a deploy that changes one changes the answer."""
    times = [mo.stat().st_mtime for folder in settings.LOCALE_PATHS for mo in Path(folder).glob("*/LC_MESSAGES/*.mo")]
    return datetime.fromtimestamp(max(times), UTC) if times else None
