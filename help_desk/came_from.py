"""Where the customer was when she asked for help: the embedding site's page that opened the help
page, as the desk shows it, host and path (shown as text, never as a link). The help page learns
it from its Referer, or, where the site's referrer policy trims that to the origin, from the help
button's `origin` and `page`; only pages of the sites allowed to send people here are kept."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from django.http import HttpRequest

from portal.text import storable

MAX_CHARS = 300  # HelpRequest.came_from


def page_url(url: str, allowed: Collection[str]) -> str:
    """`scheme://host/path` of an http(s) URL on an allowed origin, else "". The query and the
    fragment are dropped: they may hold what she typed."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.scheme not in ("http", "https") or not parts.netloc or origin not in allowed:
        return ""
    found = origin + (parts.path or "/")
    return found if storable(found) and len(found) <= 2 * MAX_CHARS else ""


def shown(url: str, allowed: Collection[str]) -> str:
    """What the desk shows of the page: `host/path`, at most MAX_CHARS."""
    found = page_url(url, allowed)
    return found.split("://", 1)[1][:MAX_CHARS] if found else ""


def seen_by_help_page(request: HttpRequest, allowed: Collection[str]) -> str:
    """The page that opened the help page: its Referer when that names more than a site, else the
    origin and path the help button said."""
    from_referer = page_url(request.headers.get("Referer", ""), allowed)
    if from_referer and urlsplit(from_referer).path not in ("", "/"):
        return from_referer
    origin, page = request.GET.get("origin", ""), request.GET.get("page", "")
    if origin and page.startswith("/") and not page.startswith("//"):
        return page_url(origin + page, allowed) or from_referer
    return from_referer or page_url(origin, allowed)
