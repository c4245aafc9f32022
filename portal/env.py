"""Typed readers for environment variables.

Each helper raises ImproperlyConfigured on a value it cannot use, naming the variable, so a
mistyped deployment fails at start-up instead of running on a silent default.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: expected one of true/false, 1/0, yes/no, on/off")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value}: must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value}: must be at most {maximum}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a finite number")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value}: must be at least {minimum}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated list; blanks between commas are ignored."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_uris(name: str, schemes: tuple[str, ...]) -> list[str]:
    """A comma-separated list of URIs, each of one of `schemes` (turn:host:3478?transport=udp, say)."""
    uris = env_list(name)
    for uri in uris:
        scheme, colon, rest = uri.partition(":")
        if not colon or scheme.lower() not in schemes or not rest.strip("/"):
            raise ImproperlyConfigured(f"{name}: {uri!r} is not a {' or '.join(schemes)} URI")
    return uris


def env_origins(name: str) -> list[str]:
    """A comma-separated list of web origins, `scheme://host[:port]` with no path
    (https://tax.example.com, http://127.0.0.1:8000): what a browser compares a frame's parent with."""
    origins = env_list(name)
    for origin in origins:
        scheme, separator, host = origin.partition("://")
        if scheme not in ("http", "https") or not separator or not host or "/" in host or "*" in host:
            raise ImproperlyConfigured(f"{name}: {origin!r} is not an origin such as https://tax.example.com")
    return origins


def env_networks(name: str) -> list[str]:
    """A comma-separated list of IP addresses or networks (192.0.2.10, 198.51.100.0/24, 2001:db8::/32)."""
    networks = env_list(name)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {network!r} is not an IP address or network") from None
    return networks


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def env_fernet_key(name: str) -> str:
    """A Fernet key (32 url-safe base64-encoded bytes), or empty when unset."""
    value = os.environ.get(name, "").strip()
    if value:
        try:
            Fernet(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: expected a Fernet key (32 url-safe base64-encoded bytes)") from None
    return value


def env_path(name: str, default: Path | None = None) -> Path | None:
    """A path to an existing file; unset means the default (often None: the feature is off)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    path = Path(raw)
    if not path.is_file():
        raise ImproperlyConfigured(f"{name}={raw!r}: no such file")
    return path


def env_address(name: str) -> tuple[str, int] | None:
    """`host:port` (`[::1]:port` for IPv6); unset or empty means None (the feature is off)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    host, colon, port = raw.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected host:port, e.g. 127.0.0.1:2223")
    return host, int(port)


@dataclass(frozen=True)
class Database:
    engine: str
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""
    options: dict[str, object] | None = None

    def as_django(self) -> dict[str, object]:
        config: dict[str, object] = {
            "ENGINE": self.engine,
            "NAME": self.name,
            "USER": self.user,
            "PASSWORD": self.password,
            "HOST": self.host,
            "PORT": self.port,
            # Daphne serves each request from a thread pool; persistent connections save a
            # handshake per request without pinning one per socket.
            "CONN_MAX_AGE": 60 if self.engine.endswith("postgresql") else 0,
            "CONN_HEALTH_CHECKS": True,
        }
        if self.options:
            config["OPTIONS"] = dict(self.options)
        return config


def parse_database_url(name: str, url: str) -> Database:
    """postgres://user:pass@host:port/db?sslmode=require or sqlite:///absolute/path.db"""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:////abs/path.db is absolute, sqlite:///rel.db relative: one slash belongs to the URL.
        path = unquote(parts.path)[1:]
        if not path:
            raise ImproperlyConfigured(f"{name}: sqlite URL needs a file path (sqlite:///path.db)")
        # The demo writes from the server, the IMS side and the beat at once: transactions take
        # the write lock up front (a deferred one cannot wait for it on upgrade), waiting up to 20 s,
        # and WAL lets readers go on meanwhile.
        options = {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
        return Database("django.db.backends.sqlite3", path, options=options)
    if parts.scheme in {"postgres", "postgresql"}:
        db_name = unquote(parts.path.lstrip("/"))
        if not db_name:
            raise ImproperlyConfigured(f"{name}: PostgreSQL URL needs a database name")
        try:
            port = str(parts.port or "")
        except ValueError:
            raise ImproperlyConfigured(f"{name}: invalid port in {url!r}") from None
        settings: dict[str, object] = {key: values[-1] for key, values in parse_qs(parts.query, True).items()}
        return Database(
            "django.db.backends.postgresql",
            db_name,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "",
            port=port,
            options=settings,
        )
    raise ImproperlyConfigured(f"{name}: unsupported scheme {parts.scheme!r} (use postgres:// or sqlite:///)")


def check_redis_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"} or not (parts.hostname or parts.path):
        raise ImproperlyConfigured(f"{name}={url!r}: expected redis://host:port/db")
    return url
