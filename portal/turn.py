"""ICE servers for the browser's RTCPeerConnection, handed to each signed-in socket.

TURN credentials follow the TURN REST API scheme that coturn checks with `use-auth-secret`:
username "<unix expiry>:<who>", password base64(HMAC-SHA1(secret, username)). coturn needs no
table of users, and a credential copied out of a page stops working at its expiry. The expiry
bounds new allocations only: a relay already allocated keeps refreshing with the key it
authenticated with, so a page asks for fresh servers (`ice.refresh`) before gathering again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings

from identity_blocks.holders import Holder

# manage.py serve's own coturn, when it started one: it stands in for TURN_URLS and TURN_SECRET
# in that process (the settings were read before the relay existed).
_LOCAL_RELAY: dict[str, Any] = {}


def use_local_relay(urls: list[str], secret: str) -> None:
    _LOCAL_RELAY.update(urls=list(urls), secret=secret)


def _relay() -> tuple[list[str], str]:
    if _LOCAL_RELAY:
        return list(_LOCAL_RELAY["urls"]), str(_LOCAL_RELAY["secret"])
    return list(settings.TURN_URLS), str(settings.TURN_SECRET)


def credential(secret: str, username: str) -> str:
    """The password coturn derives itself from its static-auth-secret for this username."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_user(who: Holder | str) -> str:
    """Who a credential is for, as coturn logs and counts it. A guest's key is a secret of her
    session and usernames cross the network in clear, so a guest is named by a digest of it."""
    if isinstance(who, str):
        if not who or ":" in who:  # coturn takes the expiry from before the first colon
            raise ValueError(f"a TURN user is a non-empty name without colons, not {who!r}")
        return who
    if who.is_member:
        return f"user.{who.user_id}"
    return "guest." + hashlib.sha256(who.guest_key.encode()).hexdigest()[:16]


def turn_server(urls: list[str], secret: str, who: Holder | str, expires: int) -> dict[str, Any]:
    username = f"{expires}:{turn_user(who)}"
    return {"urls": urls, "username": username, "credential": credential(secret, username)}


def ice_servers(who: Holder | str, now: float | None = None) -> list[dict[str, Any]]:
    """RTCIceServer dictionaries; an empty list when nothing is configured (host candidates only)."""
    servers: list[dict[str, Any]] = ice_event(who, now)["servers"]
    return servers


def ice_event(who: Holder | str, now: float | None = None) -> dict[str, Any]:
    """The `ice.servers` event: the servers, when their TURN credential expires (unix time), and
    which candidates the browser may use (RTCConfiguration.iceTransportPolicy)."""
    servers: list[dict[str, Any]] = [{"urls": list(settings.STUN_URLS)}] if settings.STUN_URLS else []
    expires = None
    urls, secret = _relay()
    if urls:
        expires = int(time.time() if now is None else now) + settings.TURN_CREDENTIAL_SECONDS
        servers.append(turn_server(urls, secret, who, expires))
    policy = settings.ICE_TRANSPORT_POLICY
    return {"type": "ice.servers", "servers": servers, "expires": expires, "policy": policy}
