"""Where a call's SDP crosses between the browser and the IMS: the media policy, decided per call.

`passthrough` when both ends are WebRTC clients of the portal (the other end is an identity the
portal holds) and their agreements let a codec of the offer cross unconverted: the SDP crosses
unchanged, each side's `a=fingerprint` untouched (DTLS-SRTP end to end). `converted` otherwise:
rtpengine (the eIMS-AGW) anchors the media, ICE and DTLS-SRTP with Opus toward the browser, plain
RTP/AVP with G.711 toward the IMS. Without a gateway, a call needing conversion is refused.

A secure chat line is an offer of one data channel (`m=application ... UDP/DTLS/SCTP
webrtc-datachannel`, RFC 8841) and nothing else: it is passed through only, between two of the
portal's own WebRTC clients whose agreements include secure chat, and never reaches rtpengine (a
gateway terminating its DTLS could read it); anything else is refused. An offer that mixes a data
channel with audio or video is refused too, rather than have the gateway anchor part of it.

Offer or answer is told by RFC 3264's order: an SDP is the answer when the other side's offer is
outstanding, an offer otherwise (a re-INVITE's too).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal, Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models.functions import Upper
from django.utils.translation import gettext_noop

from identity_blocks.models import IdentityAssignment
from ims.rtpengine import RtpEngine, RtpEngineError

log = logging.getLogger(__name__)

Side = Literal["browser", "ims"]
PASSTHROUGH, CONVERTED = "passthrough", "converted"
DATA_CHANNEL = "webrtc-datachannel"  # the recorded "codec" of a data channel's session

# What each side is to see of rtpengine's rewrite (NG protocol options).
_REPLACE = {"replace": ["origin", "session-connection"]}
_PLAIN = {"transport-protocol": "RTP/AVP", "ICE": "remove", "DTLS": "off", "SDES": ["off"], "rtcp-mux": ["demux"]}
_WEBRTC = {"transport-protocol": "UDP/TLS/RTP/SAVPF", "ICE": "force", "SDES": ["off"], "rtcp-mux": ["require"]}
FLAGS: dict[tuple[Side, bool], dict[str, Any]] = {  # (whom the SDP goes to, is it an offer)
    ("ims", True): {
        **_PLAIN,
        **_REPLACE,
        "flags": ["always transcode"],
        "codec": {"mask": ["all"], "transcode": ["PCMU", "PCMA"]},
    },
    ("ims", False): {**_PLAIN, **_REPLACE},
    ("browser", True): {
        **_WEBRTC,
        **_REPLACE,
        "flags": ["always transcode", "generate mid"],
        "codec": {"mask": ["all"], "transcode": ["opus"]},
    },
    ("browser", False): {**_WEBRTC, **_REPLACE},
}
_STATIC = {"0": "PCMU", "3": "GSM", "8": "PCMA", "9": "G722", "18": "G729"}


class MediaRefused(Exception):
    """The call cannot be carried; the message is the reason shown to the user, in English (it
    goes in a SIP Warning too): the browser's socket says it in its own language."""


@dataclass(frozen=True)
class MediaCall:
    """What a media policy knows of a call."""

    key: str  # the portal's own key for the call (rtpengine's call-id: unique even where two
    # legs of one SIP call, portal identity to portal identity, both pass through this side)
    outgoing: bool  # placed by the browser
    local: str  # the holder's identity
    remote: str  # the other end's URI


class MediaPolicy(Protocol):
    async def toward_ims(self, call: MediaCall, sdp: str) -> str:
        """An offer or answer from the browser, about to leave in SIP. Raises MediaRefused."""
        ...

    async def toward_browser(self, call: MediaCall, sdp: str) -> str:
        """An offer or answer from the IMS, about to reach the browser. Raises MediaRefused."""
        ...

    async def ended(self, call: MediaCall) -> None:
        """The call is over: release whatever the policy set up for it."""
        ...

    def recorded(self, key: str) -> dict[str, str]:
        """The decision for the call's record: {"media": "passthrough"|"converted", "codec": ...}."""
        ...


class PassThrough:
    """Every SDP unchanged, whoever the ends are (a deployment whose core converts media itself).
    It remembers only which calls are data channels, for their records."""

    def __init__(self) -> None:
        self.data_channels: set[str] = set()

    async def toward_ims(self, call: MediaCall, sdp: str) -> str:
        return self._seen(call, sdp)

    async def toward_browser(self, call: MediaCall, sdp: str) -> str:
        return self._seen(call, sdp)

    def _seen(self, call: MediaCall, sdp: str) -> str:
        if data_channel_only(sdp):
            self.data_channels.add(call.key)
        return sdp

    async def ended(self, call: MediaCall) -> None:
        self.data_channels.discard(call.key)

    def recorded(self, key: str) -> dict[str, str]:
        return {"media": PASSTHROUGH, **({"codec": DATA_CHANNEL} if key in self.data_channels else {})}


def audio_codecs(sdp: str) -> list[str]:
    """The first audio stream's codecs in order of preference, as their rtpmap names them."""
    section = re.split(r"^m=", sdp, flags=re.MULTILINE)
    audio = next((s for s in section[1:] if s.startswith("audio")), "")
    if not audio:
        return []
    formats = audio.split("\n", 1)[0].split()[3:]
    names = dict(re.findall(r"^a=rtpmap:(\d+) ([^/\s]+)", audio, flags=re.MULTILINE))
    return [names.get(pt) or _STATIC.get(pt, pt) for pt in formats]


def media_kinds(sdp: str) -> list[str]:
    """The kind of each media section offered (a port of 0 is a section declined or removed)."""
    kinds = []
    for line in re.findall(r"^m=([^\r\n]*)", sdp, flags=re.MULTILINE):
        parts = line.split()
        if len(parts) >= 4 and parts[1] != "0":
            kinds.append(DATA_CHANNEL if parts[0] == "application" and parts[3] == DATA_CHANNEL else parts[0])
    return kinds


def data_channel_only(sdp: str) -> bool:
    """The offer of a secure chat line: data channels over DTLS/SCTP (RFC 8841), no other media."""
    return media_kinds(sdp) == [DATA_CHANNEL]


def secure_chat_ends(local: str, remote: str) -> bool:
    """Both ends are identities the portal holds (its own WebRTC clients) and both of their
    agreements include secure chat."""
    wanted = {local.upper(), remote.upper()}
    live = IdentityAssignment.objects.live().annotate(upper_impu=Upper("impu")).filter(upper_impu__in=wanted)
    found = {a.impu.upper(): a.block.agreement.allows_secure_chat for a in live.select_related("block__agreement")}
    return set(found) == wanted and all(found.values())


def passthrough_codecs(local: str, remote: str) -> set[str]:
    """Lower-cased codecs both ends' agreements let cross unconverted; none unless both ends are
    identities the portal holds (live assignments), i.e. both are its own WebRTC clients."""
    wanted = {local.upper(), remote.upper()}
    live = IdentityAssignment.objects.live().annotate(upper_impu=Upper("impu")).filter(upper_impu__in=wanted)
    found = {a.impu.upper(): set(a.block.agreement.codecs) for a in live.select_related("block__agreement")}
    if set(found) != wanted:
        return set()
    return set.intersection(*found.values())


@dataclass
class _Call:
    path: str
    codec: str = ""
    outstanding: Side | None = None  # whose offer awaits its answer
    agreed: bool = False  # an answer has crossed: both sides' tags are known to the gateway


class PerCall:
    """The portal's policy: decided on a call's first offer and kept for the call's life."""

    def __init__(self, gateway: RtpEngine | None = None) -> None:
        self.gateway = gateway
        self.calls: dict[str, _Call] = {}

    @classmethod
    def from_settings(cls) -> PerCall:
        return cls(RtpEngine.from_settings())

    async def toward_ims(self, call: MediaCall, sdp: str) -> str:
        return await self._cross(call, sdp, "browser")

    async def toward_browser(self, call: MediaCall, sdp: str) -> str:
        return await self._cross(call, sdp, "ims")

    def recorded(self, key: str) -> dict[str, str]:
        state = self.calls.get(key)
        return {} if state is None else {"media": state.path, "codec": state.codec}

    async def ended(self, call: MediaCall) -> None:
        state = self.calls.pop(call.key, None)
        if state is None or state.path != CONVERTED or self.gateway is None:
            return
        try:
            await self.gateway.delete(call.key)
        except RtpEngineError as error:  # its media times out in rtpengine anyway
            log.warning("call %s: %s", call.key, error)

    async def _cross(self, call: MediaCall, sdp: str, sender: Side) -> str:
        state = self.calls.get(call.key)
        if state is None:
            state = await self._decide(call, sdp)
        other: Side = "ims" if sender == "browser" else "browser"
        offer = state.outstanding != other
        crossing = sdp if state.path == PASSTHROUGH else await self._convert(call, sdp, sender, offer, state)
        state.outstanding = sender if offer else None
        state.agreed = state.agreed or not offer
        if state.codec != DATA_CHANNEL and (not offer or not state.codec):
            # the first codec on the IMS side; the answer's, once agreed
            state.codec = next(iter(audio_codecs(sdp if sender == "ims" else crossing)), "")
        self.calls[call.key] = state
        return crossing

    async def _decide(self, call: MediaCall, offer: str) -> _Call:
        if DATA_CHANNEL in media_kinds(offer):
            return await self._decide_data_channel(call, offer)
        allowed = await database_sync_to_async(passthrough_codecs)(call.local, call.remote)
        shared = [codec for codec in audio_codecs(offer) if codec.lower() in allowed]
        if shared:
            return _Call(PASSTHROUGH, codec=shared[0])
        if self.gateway is None:
            raise MediaRefused(gettext_noop("this call needs its media converted, and no media gateway is configured"))
        return _Call(CONVERTED)

    async def _decide_data_channel(self, call: MediaCall, offer: str) -> _Call:
        """End to end or not at all: a data channel's session is never converted."""
        if not data_channel_only(offer):
            raise MediaRefused(
                gettext_noop("a data channel is carried end to end only, never beside media the gateway converts")
            )
        if not await database_sync_to_async(secure_chat_ends)(call.local, call.remote):
            raise MediaRefused(
                gettext_noop("a secure chat goes end to end between two WebRTC clients whose service includes it")
            )
        return _Call(PASSTHROUGH, codec=DATA_CHANNEL)

    async def _convert(self, call: MediaCall, sdp: str, sender: Side, offer: bool, state: _Call) -> str:
        """Through rtpengine, whose call-id is the call's key and whose tags are the two sides."""
        assert self.gateway is not None
        receiver: Side = "ims" if sender == "browser" else "browser"
        flags = dict(FLAGS[(receiver, offer)])
        if offer and state.agreed:  # a re-offer, in either direction
            flags["to-tag"] = receiver
        try:
            if offer:
                return await self.gateway.offer(call.key, sender, sdp, **flags)
            return await self.gateway.answer(call.key, receiver, sender, sdp, **flags)
        except RtpEngineError as error:
            raise MediaRefused(f"the media gateway is unavailable: {error}") from error


def configured() -> MediaPolicy:
    """A new policy of the configured class (IMS_MEDIA_POLICY), one per IMS side."""
    module, name = settings.IMS_MEDIA_POLICY.rsplit(".", 1)
    kind: Any = getattr(import_module(module), name)
    policy: MediaPolicy = kind.from_settings() if hasattr(kind, "from_settings") else kind()
    return policy
