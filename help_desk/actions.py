"""State changes of the help desk's requests and conversations. Routing to advisors is in
help_desk.routing_actions, advisors' and customers' presence in help_desk.presence."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from help_desk import events
from help_desk.models import Advisor, HelpRequest, OfflineMessage, Queue, Rating, RequestStatus
from help_desk.routing_actions import DEFAULT_HANDLING_SECONDS as DEFAULT_HANDLING_SECONDS
from help_desk.routing_actions import decline_request as decline_request
from help_desk.routing_actions import expected_wait as expected_wait
from help_desk.routing_actions import expire_rings as expire_rings
from help_desk.routing_actions import position as position
from help_desk.routing_actions import put_back, route_queue
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
        raise HelpRefused(f"{queue.name} is closed now (open {queue.opening_hours}); please leave a message")
    agreement = queue.agreement
    allowed = {"chat": agreement.allows_chat, "voice": agreement.allows_voice, "video": agreement.allows_video}
    if not allowed.get(mode, False):
        raise HelpRefused(f"{queue.name} does not offer {mode}")
    if secure and not agreement.allows_secure_chat:
        raise HelpRefused(f"{queue.name} does not offer a secure line")
    if mode not in AVAILABLE_MODES:
        raise HelpRefused(f"{mode.capitalize()} is not available yet; please choose chat.")
    if secure and not SECURE_AVAILABLE:
        raise HelpRefused("The secure line is not available yet; a standard chat is carried by the operator's network.")


def open_request(holder: Holder, queue: Queue) -> HelpRequest | None:
    return HelpRequest.objects.open().filter(queue=queue, **holder.fields).first()


def request_help(holder: Holder, queue: Queue, mode: str, secure: bool) -> HelpRequest:
    """Open a request (or return the holder's open one) with an IMS identity for the holder.
    Raises HelpRefused, or NoIdentityFree when the queue's block is full."""
    _allowed(queue, mode, secure)
    existing = open_request(holder, queue)
    if existing is not None:
        return existing
    assign_identity(holder, blocks=[queue.identity_block])
    with transaction.atomic():
        request = HelpRequest.objects.create(queue=queue, mode=mode, secure=secure, **holder.fields)
        events.request_changed(request)
    transaction.on_commit(lambda: route_queue(queue.pk))
    return request


def leave_offline_message(queue: Queue, name: str, email: str, message: str) -> OfflineMessage:
    return OfflineMessage.objects.create(queue=queue, name=name.strip(), email=email.strip(), message=message.strip())


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
            raise NotYours("The customer left.")
        if request.status != RequestStatus.RINGING or request.ringing_advisor_id != advisor.pk:
            raise NotYours("This request is no longer ringing for you.")
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
            raise NotYours("This conversation is not yours.")
        if request.status in (RequestStatus.CLOSED, RequestStatus.ABANDONED):
            return request
        if advisor is None:
            request.customer_left_at = request.customer_left_at or timezone.now()
        was_active = request.status == RequestStatus.ACTIVE
        if not was_active:
            put_back(request, "left")  # a ringing desk stops ringing: nobody is there
        request.status = RequestStatus.CLOSED if was_active else RequestStatus.ABANDONED
        request.closed_at, request.wrap_up = timezone.now(), wrap_up.strip() or request.wrap_up
        request.save()
        end_open_segments(request.pk)
        if request.advisor_id is not None:
            mine = HelpRequest.objects.filter(advisor_id=request.advisor_id, status=RequestStatus.ACTIVE)
            if not mine.exists():
                Advisor.objects.filter(pk=request.advisor_id).update(idle_since=request.closed_at)
        events.request_changed(request)
    transaction.on_commit(lambda: route_queue(request.queue_id))
    return request


def rate_conversation(request_id: int, holder: Holder, score: int, comment: str) -> Rating:
    """The customer rates her conversation once it has ended; rating again replaces her rating.
    The advisor's desk sees it on the conversation's summary."""
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().select_related("queue__agreement").get(pk=request_id)
        if holder != holder_of(request):
            raise NotYours("Only the customer rates the conversation.")
        if request.status != RequestStatus.CLOSED:
            raise HelpRefused("You can rate the conversation once it has ended.")
        fields = {"score": score, "comment": comment.strip(), "rated_at": timezone.now()}
        rating, _ = Rating.objects.update_or_create(request=request, defaults=fields)
        events.request_changed(request)
    return rating


def advisor_load(advisor: Advisor) -> int:
    return HelpRequest.objects.filter(advisor=advisor, status=RequestStatus.ACTIVE).count()
