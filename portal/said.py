"""A text composed in one place and read by people at sockets in their own languages: it crosses
the channel layer as its English message id (marked with gettext_noop where it is written) and
its parameters, and the socket that sends it on translates it in its own language (spoken)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

Said = dict[str, Any]


def said(text: str, **params: Any) -> Said:
    """`text`: a message id marked with gettext_noop, with %(name)s for each of `params`."""
    return {"text": text, "params": params}


def spoken(what: Said | str | None) -> str:
    """What was said, in the active language; a plain string (a peer's own words) as it is."""
    if not what:
        return ""
    if isinstance(what, str):
        return what
    text = gettext(str(what.get("text", "")))
    params = what.get("params") or {}
    return text % params if params else text
