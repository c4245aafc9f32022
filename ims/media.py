"""Where a call's SDP crosses between the browser and the IMS: the media policy decides what
passes. The default passes it unchanged (Opus end to end, when both ends speak it); a policy that
sends media through the media gateway (eIMS-AGW, rtpengine) rewrites it here."""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import Protocol

from django.conf import settings


class MediaPolicy(Protocol):
    async def toward_ims(self, call_key: str, sdp: str) -> str:
        """An offer or answer from the browser, about to leave in SIP."""
        ...

    async def toward_browser(self, call_key: str, sdp: str) -> str:
        """An offer or answer from the IMS, about to reach the browser."""
        ...

    async def ended(self, call_key: str) -> None:
        """The call is over: release whatever the policy set up for it."""
        ...


class PassThrough:
    async def toward_ims(self, call_key: str, sdp: str) -> str:
        return sdp

    async def toward_browser(self, call_key: str, sdp: str) -> str:
        return sdp

    async def ended(self, call_key: str) -> None:
        return None


@cache
def configured() -> MediaPolicy:
    module, name = settings.IMS_MEDIA_POLICY.rsplit(".", 1)
    policy: MediaPolicy = getattr(import_module(module), name)()
    return policy
