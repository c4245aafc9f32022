"""Calls inside a help-desk conversation. A call is placed from the caller's identity to the other
side's, through the operator's IMS core, like the conversation's chat (use case H.6): the IMS side
sends the INVITE and rings the other side's browsers. Here: who may call, with what, and to which
conversation a call's events belong."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from help_desk.actions import NotYours
from help_desk.chat import side_of
from help_desk.models import HelpRequest, RequestStatus
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment


class CallRefused(ValueError):
    """A call that cannot be placed, with a reason for the person who asked."""


@dataclass(frozen=True)
class Placement:
    assignment_id: int  # the caller's identity
    to: str  # the other side's identity
    video: bool


def placement(request_id: int, holder: Holder, video: bool) -> Placement:
    """Where a call from `holder` in this conversation goes. Raises NotYours or CallRefused."""
    request = HelpRequest.objects.select_related("advisor", "queue__agreement").get(pk=request_id)
    from_advisor = side_of(request, holder)
    agreement = request.queue.agreement
    if request.status != RequestStatus.ACTIVE:
        raise CallRefused(_("The conversation is not open."))
    if not agreement.allows_voice:
        raise CallRefused(_("Calls are not part of this service."))
    if video and not agreement.allows_video:
        raise CallRefused(_("Video is not part of this service."))
    return Placement(*ends(request, holder, from_advisor), video)


def ends(request: HelpRequest, holder: Holder, from_advisor: bool) -> tuple[int, str]:
    """The caller's live identity (its assignment's id) and the other side's identity."""
    identity = IdentityAssignment.objects.live().of(holder).first()
    to = request.customer_impu if from_advisor else request.advisor_impu
    if identity is None or not to:
        raise CallRefused(_("The call cannot be placed: an IMS identity is missing."))
    return identity.pk, to


def conversation_of(holder: Holder, caller: str, callee: str) -> int | None:
    """The holder's open conversation between these two identities, if any."""
    for request in HelpRequest.objects.open_between(caller, callee).select_related("advisor"):
        try:
            side_of(request, holder)
        except NotYours:
            continue
        return request.pk
    return None
