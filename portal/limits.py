"""Rate limits kept in Django's cache: a counter per key and time window. With REDIS_URL the
cache is Redis, whose INCR is atomic, so every ASGI process counts against the same limit; the
demo's local-memory cache counts per process."""

from __future__ import annotations

import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_address(request: HttpRequest) -> str:
    """The browser's address: CLIENT_ADDRESS_HEADER where a proxy in front sets it (the proxy's
    own address is everyone's REMOTE_ADDR), else the socket's peer."""
    header = settings.CLIENT_ADDRESS_HEADER
    claimed = request.headers.get(header, "") if header else ""
    return claimed.strip() or str(request.META.get("REMOTE_ADDR", ""))


def address_key(address: str) -> str:
    """One key per IPv4 address and per IPv6 /64 (one household's or host's whole prefix)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    # An IPv4 browser on a dual-stack socket arrives as ::ffff:a.b.c.d: it is that IPv4 address.
    return str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else ip)


def allow(scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Counts one more for `key` in the current window; False once `limit` is passed."""
    window = int(time.time() // window_seconds)
    name = f"limit:{scope}:{key}:{window}"
    cache.add(name, 0, timeout=window_seconds + 1)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr: a fresh window
        cache.add(name, 1, timeout=window_seconds + 1)
        count = 1
    return count <= limit


def seconds_left(window_seconds: int) -> int:
    """Until the current window ends (a Retry-After)."""
    return max(1, int(window_seconds - time.time() % window_seconds))


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: object) -> HttpResponse:
    """django-axes's answer to a log-in while its user name and address are locked out."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(request, "registration/locked_out.html", {"minutes": max(1, seconds // 60)}, status=429)
    response["Retry-After"] = str(seconds)
    return response
