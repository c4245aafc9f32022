"""Every state change of the help desk: requests, routing to advisors, conversations."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, F, Q
from django.utils import timezone

from help_desk import events
from help_desk.models import Advisor, HelpRequest, OfflineMessage, Presence, Queue, RequestStatus
from identity_blocks.actions import assign_identity
from identity_blocks.holders import Holder
from portal.locks import advisory_lock

ROUTING_LOCK = 0x4E1D
DEFAULT_HANDLING_SECONDS = 180


class HelpRefused(ValueError):
    """A request the queue cannot take, with a reason for the person asking."""


class NotYours(PermissionError):
    """The request is not (or no longer) this advisor's to act on."""


def holder_of(request: HelpRequest) -> Holder:
    return Holder.of(request)


# Asking for help ---------------------------------------------------------------------------


# What the portal can carry today. A secure request must never fall back to a chat the server
# can read, so it is refused until the browser-to-browser line exists.
AVAILABLE_MODES = ("chat", "voice", "video")
SECURE_AVAILABLE = False


def _allowed(queue: Queue, mode: str, secure: bool) -> None:
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


def request_help(holder: Holder, queue: Queue, mode: str, secure: bool) -> HelpRequest:
    """Open a request (or return the holder's open one) with an IMS identity for the holder.
    Raises HelpRefused, or NoIdentityFree when the queue's block is full."""
    _allowed(queue, mode, secure)
    existing = HelpRequest.objects.open().filter(queue=queue, **holder.fields).first()
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


# Routing -----------------------------------------------------------------------------------


def _load(advisor_ids: list[int]) -> dict[int, int]:
    """Conversations and rings each advisor has now: both count against capacity."""
    busy = HelpRequest.objects.filter(
        Q(advisor_id__in=advisor_ids, status=RequestStatus.ACTIVE)
        | Q(ringing_advisor_id__in=advisor_ids, status=RequestStatus.RINGING)
    )
    load: dict[int, int] = dict.fromkeys(advisor_ids, 0)
    for advisor_id, ringing_id in busy.values_list("advisor_id", "ringing_advisor_id"):
        who = advisor_id or ringing_id
        if who in load:
            load[who] += 1
    return load


def _free_advisor(queue: Queue, passed_over: set[int]) -> Advisor | None:
    """The available advisor of the queue idle the longest, with room for one more."""
    candidates = list(
        Advisor.objects.filter(queues=queue, presence=Presence.AVAILABLE)
        .exclude(pk__in=passed_over)
        .order_by("idle_since")
    )
    load = _load([a.pk for a in candidates])
    return next((a for a in candidates if load[a.pk] < a.capacity), None)


def route_queue(queue_id: int) -> None:
    """Ring a free advisor for each waiting request, oldest first; tell everyone still waiting
    their place. Serialized: two routings at once could ring one advisor past capacity."""
    with transaction.atomic():
        advisory_lock(ROUTING_LOCK)
        queue = Queue.objects.select_related("agreement").get(pk=queue_id)
        for request in HelpRequest.objects.filter(queue=queue, status=RequestStatus.WAITING).order_by(
            "created_at", "id"
        ):
            advisor = _free_advisor(queue, set(request.passed_over.values_list("pk", flat=True)))
            if advisor is None:
                continue
            request.status, request.ringing_advisor = RequestStatus.RINGING, advisor
            request.ring_until = timezone.now() + timedelta(seconds=settings.HELP_RING_SECONDS)
            request.save(update_fields=["status", "ringing_advisor", "ring_until"])
            events.ringing(advisor, request)
        _tell_positions(queue)


def _tell_positions(queue: Queue) -> None:
    waiting = list(HelpRequest.objects.filter(queue=queue).waiting().values_list("pk", flat=True)[:200])
    for place, request_id in enumerate(waiting, 1):
        events.position(request_id, place, expected_wait(queue, place))


def expected_wait(queue: Queue, place: int) -> int:
    """Seconds: the recent average handling time, times how many rounds of advisors are ahead."""
    recent = HelpRequest.objects.filter(queue=queue, status=RequestStatus.CLOSED, accepted_at__isnull=False)
    recent = recent.order_by("-closed_at")[:20]
    average = HelpRequest.objects.filter(pk__in=recent).aggregate(seconds=Avg(F("closed_at") - F("accepted_at")))[
        "seconds"
    ]
    handling = average.total_seconds() if average else DEFAULT_HANDLING_SECONDS
    advisors = Advisor.objects.on_duty().filter(queues=queue).count()
    if advisors == 0:
        return 0
    return int(handling * math.ceil((place - 1) / advisors)) if place > advisors else 0


def position(request: HelpRequest) -> int:
    ahead = HelpRequest.objects.filter(queue=request.queue_id).waiting()
    return ahead.filter(
        Q(created_at__lt=request.created_at) | Q(created_at=request.created_at, pk__lte=request.pk)
    ).count()


# Advisors ----------------------------------------------------------------------------------


def set_presence(advisor: Advisor, presence: str) -> None:
    Advisor.objects.filter(pk=advisor.pk).update(presence=presence)
    if presence == Presence.AVAILABLE:
        queue_ids = list(advisor.queues.values_list("pk", flat=True))
        transaction.on_commit(lambda: _route_all(queue_ids))


def _route_all(queue_ids: list[int]) -> None:
    for queue_id in queue_ids:
        route_queue(queue_id)


def accept_request(advisor: Advisor, request_id: int) -> HelpRequest:
    """The ringing advisor takes the request; it becomes their conversation."""
    from identity_blocks.models import IdentityAssignment

    advisor_identity = assign_identity(Holder.member(advisor.user))
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().select_related("queue").get(pk=request_id)
        if request.status != RequestStatus.RINGING or request.ringing_advisor_id != advisor.pk:
            raise NotYours("This request is no longer ringing for you.")
        customer = IdentityAssignment.objects.live().of(holder_of(request)).first()
        request.status, request.advisor, request.accepted_at = RequestStatus.ACTIVE, advisor, timezone.now()
        request.ringing_advisor, request.ring_until = None, None
        request.customer_impu = customer.impu if customer else ""
        request.advisor_impu = advisor_identity.impu
        request.save()
        events.conversation_started(request)
    transaction.on_commit(lambda: route_queue(request.queue_id))
    return request


def _pass_over(request_id: int, advisor_id: int | None) -> None:
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().get(pk=request_id)
        if request.status != RequestStatus.RINGING or request.ringing_advisor_id != advisor_id:
            return
        if advisor_id is not None:
            request.passed_over.add(advisor_id)
            events.ring_over(advisor_id, request)
        request.status, request.ringing_advisor, request.ring_until = RequestStatus.WAITING, None, None
        request.save(update_fields=["status", "ringing_advisor", "ring_until"])
    transaction.on_commit(lambda: route_queue(request.queue_id))


def decline_request(advisor: Advisor, request_id: int) -> None:
    _pass_over(request_id, advisor.pk)


def expire_rings() -> int:
    """Rings nobody answered in time go to the next advisor."""
    late = list(
        HelpRequest.objects.filter(status=RequestStatus.RINGING, ring_until__lt=timezone.now()).values_list(
            "pk", "ringing_advisor_id"
        )
    )
    for request_id, advisor_id in late:
        _pass_over(request_id, advisor_id)
    return len(late)


def close_request(request_id: int, *, advisor: Advisor | None = None, wrap_up: str = "") -> HelpRequest:
    """The advisor closes the conversation (with a wrap-up note), or the customer leaves."""
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().get(pk=request_id)
        if advisor is not None and request.advisor_id != advisor.pk:
            raise NotYours("This conversation is not yours.")
        if request.status in (RequestStatus.CLOSED, RequestStatus.ABANDONED):
            return request
        was_active = request.status == RequestStatus.ACTIVE
        request.status = RequestStatus.CLOSED if was_active else RequestStatus.ABANDONED
        request.closed_at, request.wrap_up = timezone.now(), wrap_up.strip() or request.wrap_up
        request.save()
        if request.advisor_id is not None:
            mine = HelpRequest.objects.filter(advisor_id=request.advisor_id, status=RequestStatus.ACTIVE)
            if not mine.exists():
                Advisor.objects.filter(pk=request.advisor_id).update(idle_since=request.closed_at)
        events.request_changed(request)
    transaction.on_commit(lambda: route_queue(request.queue_id))
    return request


def advisor_load(advisor: Advisor) -> int:
    return HelpRequest.objects.filter(advisor=advisor, status=RequestStatus.ACTIVE).count()
