"""State changes of the help desk's requests and conversations. Routing to advisors is in
help_desk.routing_actions, advisors' and customers' presence in help_desk.presence."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from help_desk import events
from help_desk.models import (
    Advisor,
    AdvisorQuerySet,
    HelpRequest,
    OfflineMessage,
    Queue,
    Rating,
    RequestStatus,
    RingPass,
    WrapUpEdit,
)
from help_desk.routing_actions import DEFAULT_HANDLING_SECONDS as DEFAULT_HANDLING_SECONDS
from help_desk.routing_actions import decline_request as decline_request
from help_desk.routing_actions import expected_wait as expected_wait
from help_desk.routing_actions import expire_rings as expire_rings
from help_desk.routing_actions import position as position
from help_desk.routing_actions import put_back, route_queue, route_queues
from help_desk.routing_actions import set_presence as set_presence
from identity_blocks.actions import assign_identity
from identity_blocks.holders import Holder


class HelpRefused(ValueError):
    """A request the queue cannot take, with a reason for the person asking."""


class NotYours(PermissionError):
    """The request is not (or no longer) this advisor's to act on."""


def holder_of(request: HelpRequest) -> Holder:
    return Holder.of(request)


# Asking for help ---------------------------------------------------------------------------


# What the portal can carry today. A secure request opens the secure chat line (help_desk.secure)
# as soon as the conversation starts; it never falls back to a chat the server can read.
AVAILABLE_MODES = ("chat", "voice", "video")
SECURE_AVAILABLE = True


def _allowed(queue: Queue, mode: str, secure: bool) -> None:
    if not queue.is_open():
        raise HelpRefused(
            _("%(queue)s is closed now (open %(hours)s); please leave a message")
            % {"queue": queue.name, "hours": queue.opening_hours}
        )
    agreement = queue.agreement
    allowed = {"chat": agreement.allows_chat, "voice": agreement.allows_voice, "video": agreement.allows_video}
    if not allowed.get(mode, False):
        raise HelpRefused(_("%(queue)s does not offer %(mode)s") % {"queue": queue.name, "mode": mode})
    if secure and not agreement.allows_secure_chat:
        raise HelpRefused(_("%(queue)s does not offer a secure line") % {"queue": queue.name})
    if mode not in AVAILABLE_MODES:
        raise HelpRefused(_("%(mode)s is not available yet; please choose chat.") % {"mode": mode.capitalize()})
    if secure and not SECURE_AVAILABLE:
        raise HelpRefused(
            _("The secure line is not available yet; a standard chat is carried by the operator's network.")
        )


def open_request(holder: Holder, queue: Queue) -> HelpRequest | None:
    return HelpRequest.objects.open().filter(queue=queue, **holder.fields).first()


def request_help(holder: Holder, queue: Queue, mode: str, secure: bool, came_from: str = "") -> HelpRequest:
    """Open a request (or return the holder's open one) with an IMS identity for the holder;
    `came_from` is the page she asked from, as the desk shows it (help_desk.came_from).
    Raises HelpRefused, or NoIdentityFree when the queue's block is full."""
    _allowed(queue, mode, secure)
    existing = open_request(holder, queue)
    if existing is not None:
        return existing
    assign_identity(holder, blocks=[queue.identity_block])
    with transaction.atomic():
        request = HelpRequest.objects.create(
            queue=queue, mode=mode, secure=secure, came_from=came_from, **holder.fields
        )
        events.request_changed(request)
    transaction.on_commit(lambda: route_queue(queue.pk))
    return request


def leave_offline_message(queue: Queue, name: str, email: str, message: str) -> OfflineMessage:
    """Into the desk's inbox; the queue's open desks count it at once."""
    with transaction.atomic():
        left = OfflineMessage.objects.create(
            queue=queue, name=name.strip(), email=email.strip(), message=message.strip()
        )
        events.inbox(queue.pk)
    return left


def on_duty(queue: Queue) -> bool:
    return Advisor.objects.on_duty().filter(queues=queue).exists()


def taking_requests(queue: Queue) -> bool:
    """Someone would be rung now: on duty is not enough, a Busy advisor takes no new requests."""
    return Advisor.objects.taking_requests().filter(queues=queue).exists()


# Conversations -------------------------------------------------------------------------------


def accept_request(advisor: Advisor, request_id: int) -> HelpRequest:
    """The ringing advisor takes the request; it becomes their conversation."""
    from identity_blocks.models import IdentityAssignment

    advisor_identity = assign_identity(Holder.member(advisor.user))
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().select_related("queue").get(pk=request_id)
        if request.customer_left_at is not None:
            raise NotYours(_("The customer left."))
        if request.status != RequestStatus.RINGING or request.ringing_advisor_id != advisor.pk:
            raise NotYours(_("This request is no longer ringing for you."))
        customer = IdentityAssignment.objects.live().of(holder_of(request)).first()
        request.status, request.advisor, request.accepted_at = RequestStatus.ACTIVE, advisor, timezone.now()
        request.ringing_advisor, request.ring_until = None, None
        request.customer_impu = customer.impu if customer else ""
        request.advisor_impu = advisor_identity.impu
        request.save()
        Advisor.objects.filter(pk=advisor.pk, missed_rings__gt=0).update(missed_rings=0)
        events.conversation_started(request)
    transaction.on_commit(lambda: route_queue(request.queue_id))
    return request


def close_request(request_id: int, *, advisor: Advisor | None = None, wrap_up: str = "") -> HelpRequest:
    """The advisor closes the conversation (with a wrap-up note), or the customer leaves (a
    request still waiting is withdrawn)."""
    from help_desk.secure import end_open_segments

    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().get(pk=request_id)
        if advisor is not None and request.advisor_id != advisor.pk:
            raise NotYours(_("This conversation is not yours."))
        if request.status in (RequestStatus.CLOSED, RequestStatus.ABANDONED):
            return request
        if advisor is None:
            request.customer_left_at = request.customer_left_at or timezone.now()
        was_active = request.status == RequestStatus.ACTIVE
        if not was_active:
            put_back(request, "left")  # a ringing desk stops ringing: nobody is there
        request.status = RequestStatus.CLOSED if was_active else RequestStatus.ABANDONED
        request.closed_at = timezone.now()
        request.save()
        if wrap_up.strip() and advisor is not None:
            _write_wrap_up(request, wrap_up.strip(), advisor.user)
        end_open_segments(request.pk)
        if request.advisor_id is not None:
            _idle_if_free(request.advisor_id)
        events.request_changed(request)
    transaction.on_commit(lambda: route_queue(request.queue_id))
    return request


def edit_wrap_up(request_id: int, text: str, by: User) -> HelpRequest:
    """Someone (staff, in the admin) corrects the wrap-up note: the new version is kept beside the
    earlier ones, with who wrote it and when. Writing the same text again changes nothing."""
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().get(pk=request_id)
        if text.strip() != request.wrap_up:
            _write_wrap_up(request, text.strip(), by)
    return request


def _write_wrap_up(request: HelpRequest, text: str, by: User | None) -> None:
    request.wrap_up = text
    request.save(update_fields=["wrap_up"])
    WrapUpEdit.objects.create(request=request, text=text, edited_by=by)


def _idle_if_free(advisor_id: int) -> None:
    """An advisor with no conversation left is idle from now (who waited longest is rung first)."""
    if not HelpRequest.objects.filter(advisor_id=advisor_id, status=RequestStatus.ACTIVE).exists():
        Advisor.objects.filter(pk=advisor_id).update(idle_since=timezone.now())


def rate_conversation(request_id: int, holder: Holder, score: int, comment: str) -> Rating:
    """The customer rates her conversation once it has ended; rating again replaces her rating.
    The advisor's desk sees it on the conversation's summary."""
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().select_related("queue__agreement").get(pk=request_id)
        if holder != holder_of(request):
            raise NotYours(_("Only the customer rates the conversation."))
        if request.status != RequestStatus.CLOSED:
            raise HelpRefused(_("You can rate the conversation once it has ended."))
        fields = {"score": score, "comment": comment.strip(), "rated_at": timezone.now()}
        rating, _created = Rating.objects.update_or_create(request=request, defaults=fields)
        events.request_changed(request)
    return rating


def advisor_load(advisor: Advisor) -> int:
    return HelpRequest.objects.filter(advisor=advisor, status=RequestStatus.ACTIVE).count()


def has_room(advisor: Advisor) -> bool:
    """Fewer conversations (and rings) than their capacity."""
    busy = HelpRequest.objects.filter(advisor=advisor, status=RequestStatus.ACTIVE).count()
    busy += HelpRequest.objects.filter(ringing_advisor=advisor, status=RequestStatus.RINGING).count()
    return busy < advisor.capacity


# Transfers ----------------------------------------------------------------------------------


def _transfer_advisors(request: HelpRequest, handing: Advisor) -> AdvisorQuerySet:
    """Who may take the conversation over from `handing`: on duty with the desk open, serving a
    queue of the same agreement (it says what the conversation may carry)."""
    advisors = Advisor.objects.on_duty().filter(desk_closed_at__isnull=True)
    advisors = advisors.filter(queues__agreement_id=request.queue.agreement_id).exclude(pk=handing.pk)
    return advisors.distinct()


def _transfer_queues(request: HelpRequest) -> list[Queue]:
    queues = Queue.objects.filter(agreement_id=request.queue.agreement_id).exclude(pk=request.queue_id)
    return [queue for queue in queues.order_by("name") if queue.is_open()]


def _yours_to_transfer(advisor: Advisor, request: HelpRequest) -> None:
    if request.advisor_id != advisor.pk or request.status != RequestStatus.ACTIVE:
        raise NotYours(_("This conversation is not yours to transfer."))
    if request.customer_left_at is not None:
        raise HelpRefused(_("The customer left."))


def transfer_options(advisor: Advisor, request_id: int) -> dict[str, Any]:
    """The advisors (with room) and queues the advisor may hand the conversation to."""
    request = HelpRequest.objects.select_related("queue").get(pk=request_id)
    _yours_to_transfer(advisor, request)
    found = _transfer_advisors(request, advisor).select_related("user").order_by("pk")
    advisors = [a for a in found if has_room(a)]
    return {
        "advisors": [{"id": a.pk, "name": a.display_name or str(a)} for a in advisors],
        "queues": [{"id": q.pk, "name": q.name} for q in _transfer_queues(request)],
    }


def transfer_conversation(
    advisor: Advisor, request_id: int, *, to_advisor: int | None = None, to_queue: int | None = None
) -> HelpRequest:
    """Hand an open conversation, with its chat, to another advisor (on duty, with room), who has
    it at once, or to another queue of the same agreement, where she waits in line again. The
    first advisor's desks let go of it. Raises NotYours or HelpRefused."""
    target = Advisor.objects.select_related("user").filter(pk=to_advisor).first() if to_advisor else None
    if (target is None) == (to_queue is None):
        raise HelpRefused(_("Transfer to one advisor or one queue."))
    # Outside the transaction, as accepting does: the new advisor's identity for the chat.
    impu = assign_identity(Holder.member(target.user)).impu if target is not None else ""
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().select_related("queue").get(pk=request_id)
        _yours_to_transfer(advisor, request)
        old_queue = request.queue_id
        if target is not None:
            to = _hand_to_advisor(request, advisor, target.pk, impu)
        else:
            to = _hand_to_queue(request, advisor, int(to_queue or 0))
        _end_secure_line(request.pk)
        _idle_if_free(advisor.pk)
        events.transferred(request, advisor.pk, to)
    transaction.on_commit(lambda: route_queues(sorted({old_queue, request.queue_id})))
    return request


def _end_secure_line(request_id: int) -> None:
    from help_desk.secure import end_open_segments

    end_open_segments(request_id)  # it ran between the first advisor's browser and hers


def _hand_to_advisor(request: HelpRequest, handing: Advisor, advisor_id: int, impu: str) -> str:
    """Locked after the request, as routing does: two advisors handing to the same one at once
    count their room one after the other."""
    target = Advisor.objects.select_for_update().select_related("user").get(pk=advisor_id)
    name = target.display_name or str(target)
    if not _transfer_advisors(request, handing).filter(pk=target.pk).exists() or not has_room(target):
        raise HelpRefused(_("%(name)s cannot take another conversation now.") % {"name": name})
    request.advisor, request.advisor_impu = target, impu
    request.save(update_fields=["advisor", "advisor_impu"])
    return name


def _hand_to_queue(request: HelpRequest, advisor: Advisor, queue_id: int) -> str:
    queue = next((q for q in _transfer_queues(request) if q.pk == queue_id), None)
    if queue is None:
        raise HelpRefused(_("That queue cannot take the conversation now."))
    request.queue, request.status, request.advisor, request.accepted_at = queue, RequestStatus.WAITING, None, None
    request.customer_impu = request.advisor_impu = ""  # fixed again when an advisor accepts
    request.save()
    # The advisor who handed it on is not rung for it straight back.
    RingPass.objects.update_or_create(request=request, advisor=advisor, defaults={"passed_at": timezone.now()})
    return queue.name


# Offline messages ---------------------------------------------------------------------------


def answer_offline_message(advisor: Advisor, message_id: int, reply: str) -> OfflineMessage:
    """The advisor's reply goes by e-mail (a Celery task) and the message counts as answered, by
    them. Two advisors answering at once: the second is told it was answered."""
    from help_desk import tasks

    if not reply.strip():
        raise HelpRefused(_("Write a reply first."))
    with transaction.atomic():
        message = OfflineMessage.objects.select_for_update(of=("self",)).get(pk=message_id, queue__advisors=advisor)
        if message.answered_at is not None:
            raise HelpRefused(_("%(name)s's message was answered already.") % {"name": message.name})
        message.reply, message.answered_at, message.answered_by_id = reply.strip(), timezone.now(), advisor.user_id
        message.save(update_fields=["reply", "answered_at", "answered_by"])
        events.inbox(message.queue_id)
    transaction.on_commit(lambda: tasks.mail_offline_reply.delay(message.pk))
    return message
