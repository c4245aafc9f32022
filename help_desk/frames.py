"""What a browser may send on its sockets: one DRF serializer per event type, checked before any
handler runs. Text is bounded and storable (no NUL, no lone surrogate: PostgreSQL, msgpack and
UTF-8 refuse them), numbers are finite and within the columns they reach, and an id fits a bigint.
A frame that fails gets an error event naming the field and the problem."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from help_desk.chat import MAX_CHARS, MAX_PENDING
from help_desk.models import Presence
from ims.release import MEDIA_FAILURES
from portal.text import storable

BIGINT = 2**63 - 1
SEQ_MAX = 2**31 - 1  # a message's number is a PostgreSQL integer
MAX_SDP = 32 * 1024
MAX_REF = 64
MAX_NUMBER = 1e12  # what a call's quality summary may say of it
Schema = type[serializers.Serializer[Any]]


class Text(serializers.CharField):
    """A JSON string, nothing else: a number or a list is not turned into its repr. DRF's
    CharField refuses NUL and surrogate characters."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)  # an SDP ends with CRLF
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class Number(serializers.Field):  # type: ignore[type-arg]
    """A finite JSON number of bounded size, kept an int or a float as sent."""

    default_error_messages = {"invalid": _("A finite number up to 1e12 is required.")}

    def to_internal_value(self, data: Any) -> int | float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        number: int | float = data
        if not math.isfinite(number) or abs(number) > MAX_NUMBER:
            self.fail("invalid")
        return number

    def to_representation(self, value: Any) -> Any:
        return value


def _id(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=BIGINT, **kwargs)


def usable_ref(ref: Any) -> bool:
    """A frame's `ref`, echoed in the answer: a short string, an integer, or nothing."""
    if ref is None:
        return True
    if isinstance(ref, str):
        return len(ref) <= MAX_REF and storable(ref)
    return isinstance(ref, int) and not isinstance(ref, bool) and abs(ref) <= BIGINT


class Bare(serializers.Serializer[Any]):
    """An event with nothing but its type (and ref)."""


class PagerSend(serializers.Serializer[Any]):
    to = Text(max_length=512)
    body = Text(max_length=64 * 1024, allow_blank=True)


class DialOut(serializers.Serializer[Any]):
    to = Text(max_length=512)
    video = serializers.BooleanField(default=False)
    sdp = Text(max_length=MAX_SDP, allow_blank=True, default="")


class CallControl(serializers.Serializer[Any]):
    call = Text(max_length=64)
    sdp = Text(max_length=MAX_SDP, allow_blank=True, default="")
    # A hang-up on a media failure says which (ims.release); the portal records it on the call.
    reason = serializers.ChoiceField(choices=sorted(MEDIA_FAILURES), required=False)


class CallStart(serializers.Serializer[Any]):
    video = serializers.BooleanField(default=False)
    sdp = Text(max_length=MAX_SDP, allow_blank=True, default="")


class Quality(serializers.Serializer[Any]):
    codec = Text(max_length=100, allow_blank=True, allow_null=True, required=False)
    # The browser's getStats names.
    packetsLost = Number(allow_null=True, required=False)
    packetsReceived = Number(allow_null=True, required=False)
    jitterMs = Number(allow_null=True, required=False)
    rttMs = Number(allow_null=True, required=False)
    kbps = Number(allow_null=True, required=False)
    seconds = Number(allow_null=True, required=False)


class CallQuality(serializers.Serializer[Any]):
    call = Text(max_length=64)
    summary = Quality()


class ChatSend(serializers.Serializer[Any]):
    body = Text(max_length=MAX_CHARS, allow_blank=True)  # blank: the chat's own refusal says why
    client_id = Text(max_length=64)


class ChatRetry(serializers.Serializer[Any]):
    client_id = Text(max_length=64)


class SecureStart(serializers.Serializer[Any]):
    sdp = Text(max_length=MAX_SDP)


class ChatResume(serializers.Serializer[Any]):
    after = serializers.IntegerField(min_value=0, max_value=SEQ_MAX, default=0)
    pending = serializers.ListField(child=Text(max_length=64), max_length=MAX_PENDING, default=list)


class ChatRead(serializers.Serializer[Any]):
    up_to = serializers.IntegerField(min_value=0, max_value=SEQ_MAX)


class PresenceSet(serializers.Serializer[Any]):
    presence = serializers.ChoiceField(
        choices=Presence.values, error_messages={"invalid_choice": _("one of available, busy, away or offline")}
    )


class ForRequest(serializers.Serializer[Any]):
    request = _id()


class CloseRequest(ForRequest):
    wrap_up = Text(max_length=5000, allow_blank=True, default="")


class Transfer(ForRequest):
    """To one advisor or to one queue (help_desk.actions.transfer_options lists them)."""

    advisor = _id(required=False)
    queue = _id(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("advisor" in attrs) == ("queue" in attrs):
            raise serializers.ValidationError(_("name an advisor or a queue"))
        return attrs


def for_a_request(schema: Schema) -> Schema:
    """The desk's variant of a conversation event: which of the advisor's requests it is for."""
    return type(f"Desk{schema.__name__}", (schema,), {"request": _id()})


# What the holder's browser may ask of a call it holds; the IMS side checks that it does.
CALL_CONTROLS = ("answer", "decline", "hangup", "update", "update_answer")
CLIENT: Mapping[str, Schema] = {
    "ice.refresh": Bare,
    "message.send": PagerSend,
    "call.start": DialOut,
    "call.quality": CallQuality,
    **{f"call.{action}": CallControl for action in CALL_CONTROLS},
}
CONVERSATION: Mapping[str, Schema] = {
    "ice.refresh": Bare,
    "chat.send": ChatSend,
    "chat.retry": ChatRetry,
    "chat.resume": ChatResume,
    "chat.read": ChatRead,
    "chat.typing": Bare,
    "call.start": CallStart,
    "call.quality": CallQuality,
    "secure.start": SecureStart,
    "secure.verified": Bare,
    "secure.opened": Bare,
    **{f"call.{action}": CallControl for action in CALL_CONTROLS},
}
HELP: Mapping[str, Schema] = {**CONVERSATION, "help.leave": Bare}
# A call's controls name the call, not the conversation: those are the same on the desk.
PER_REQUEST = (
    "chat.send",
    "chat.retry",
    "chat.resume",
    "chat.read",
    "chat.typing",
    "secure.start",
    "secure.verified",
    "secure.opened",
)
DESK: Mapping[str, Schema] = {
    **CONVERSATION,
    **{kind: for_a_request(CONVERSATION[kind]) for kind in PER_REQUEST},
    "call.start": for_a_request(CallStart),
    "presence.set": PresenceSet,
    "help.accept": ForRequest,
    "help.decline": ForRequest,
    "help.close": CloseRequest,
    "help.transfer_options": ForRequest,
    "help.transfer": Transfer,
}


def problem(errors: Any, path: str = "") -> str:
    """The first of a serializer's errors, as `field: message` (nested fields dotted)."""
    if isinstance(errors, Mapping):
        field, inner = next(iter(errors.items()))
        name = "" if field == "non_field_errors" else str(field)
        return problem(inner, f"{path}.{name}" if path and name else path or name)
    if isinstance(errors, list) and errors:
        return problem(errors[0], path)
    return f"{path}: {errors}" if path else str(errors)


@functools.cache
def _reader(schema: Schema) -> serializers.Serializer[Any]:
    """One serializer a schema, kept: a new one a frame deep-copied its fields every time (a
    seventh of the event loop's work on a chat message). run_validation keeps nothing on it."""
    return schema()


def checked(schema: Schema, content: dict[str, Any]) -> dict[str, Any] | str:
    """The frame's fields as its schema reads them, or what is wrong with it (as is_valid() and
    errors would have it)."""
    try:
        return dict(_reader(schema).run_validation(content))
    except serializers.ValidationError as invalid:
        return problem(invalid.detail)
