"""Why a browser ended a call on a media failure, carried to the other side in the BYE's Reason
header (RFC 3326) with the release causes of 3GPP TS 24.229 (protocol "RELEASE_CAUSE"), so that
both calls' records, and both people, learn the same plain reason rather than "hung up"."""

from __future__ import annotations

import re

# What the browser may name as its cause, and the TS 24.229 release cause each is sent as.
MEDIA_FAILURES = {
    "no media path": 6,  # call-setup time-out: no ICE pair (or no DTLS) before the bounded wait ran out
    "the connection dropped": 3,  # media bearer loss: the path went and an ICE restart did not bring it back
    "the keys did not match": 3,  # DTLS refused the other side's certificate: its fingerprint was altered
}
REASON_TEXT = re.compile(r'^\s*RELEASE_CAUSE\s*;.*\btext\s*=\s*"([^"]*)"', re.IGNORECASE)


def reason_header(cause: str) -> str:
    return f'RELEASE_CAUSE;cause={MEDIA_FAILURES[cause]};text="{cause}"'


def cause_of(header: str | None) -> str | None:
    """The media failure a received Reason names, when it is one of ours; None for anything else."""
    found = REASON_TEXT.match(header or "")
    return found[1] if found and found[1] in MEDIA_FAILURES else None
