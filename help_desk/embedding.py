"""The customer's help pages in a panel on a third-party site: an iframe that only the sites in
HELP_EMBED_ORIGINS that the page's queue lists (and, in the demo, the portal's own tax site) may
show. Every other page keeps frame-ancestors 'none' and X-Frame-Options DENY."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from csp.constants import NONE, SELF
from csp.decorators import csp_replace
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.clickjacking import xframe_options_exempt

View = Callable[..., HttpResponseBase]


def _frame_options(ancestors: list[str]) -> str | None:
    """X-Frame-Options agreeing with the CSP: it can say none or the portal itself, not a list of
    sites; for a list, CSP frame-ancestors alone decides (browsers then ignore X-Frame-Options)."""
    if ancestors == [NONE]:
        return "DENY"
    return "SAMEORIGIN" if ancestors == [SELF] else None


def embeddable(origins_of: Callable[..., list[str]]) -> Callable[[View], View]:
    """A help page of one queue, which the embedding sites may frame: those of HELP_EMBED_ORIGINS
    that the queue lists among its own embedding origins (`origins_of` finds them from the
    view's arguments), and the portal itself in the demo."""

    def decorate(view: View) -> View:
        @wraps(view)
        def framed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            listed = set(origins_of(request, *args, **kwargs))
            ancestors = [a for a in settings.HELP_FRAME_ANCESTORS if a == SELF or a in listed] or [NONE]
            response = csp_replace({"frame-ancestors": ancestors})(view)(request, *args, **kwargs)
            frame_options = _frame_options(ancestors)
            if frame_options is None:
                return xframe_options_exempt(lambda _: response)(request)
            response["X-Frame-Options"] = frame_options  # the middleware keeps a header already set
            return response

        return framed

    return decorate
