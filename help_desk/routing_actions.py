"""Routing: which advisor a waiting request rings, what a missed or declined ring leads to, and
what the people in line are told. Nobody is stranded: a request an advisor passed on is offered to
them again after HELP_RING_COOLDOWN_SECONDS, for as long as anyone takes requests.

Locks are taken request first, advisor second, never the other way round."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from help_desk import events
from help_desk.models import Advisor, HelpRequest, Presence, Queue, RequestStatus, RingPass
from portal.locks import advisory_lock
from portal.said import Said, said

ROUTING_LOCK = 0x4E1D
DEFAULT_HANDLING_SECONDS = 180
LINE_SHOWN = 200  # requests told their place, and shown on the desks, per queue


def route_queue(queue_id: int, *, tell: bool = True) -> int:
    """Ring a free advisor for each waiting request whose customer is here, oldest first; then
    tell everyone waiting their place and the desks the line (when asked, or when it changed).
    Serialized: two routings at once could ring one advisor past capacity. Returns the rings."""
    with transaction.atomic():
        advisory_lock(ROUTING_LOCK)
        queue = Queue.objects.select_related("agreement").get(pk=queue_id)
        rung = _ring_free_advisors(queue)
        if tell or rung:
            _tell_line(queue)
    return rung


def route_queues(queue_ids: list[int]) -> None:
    for queue_id in queue_ids:
        route_queue(queue_id)


def offer_again() -> int:
    """Requests whose advisors' cool-downs have run out ring again; the periodic retry that keeps
    a request with only passed-over advisors from waiting forever."""
    queue_ids = HelpRequest.objects.ready_to_ring().values_list("queue_id", flat=True).distinct()
    return sum(route_queue(queue_id, tell=False) for queue_id in list(queue_ids.order_by()))


@dataclass
class _Slots:
    advisor: Advisor
    free: int


def _room(queue: Queue) -> list[_Slots]:
    """The advisors taking requests who have room, the longest idle first."""
    advisors = list(Advisor.objects.taking_requests().filter(queues=queue).order_by("idle_since", "pk"))
    busy = HelpRequest.objects.filter(
        Q(advisor__in=advisors, status=RequestStatus.ACTIVE)
        | Q(ringing_advisor__in=advisors, status=RequestStatus.RINGING)
    )
    load: dict[int, int] = defaultdict(int)
    for advisor_id, ringing_id in busy.values_list("advisor_id", "ringing_advisor_id"):
        load[advisor_id or ringing_id] += 1
    return [_Slots(a, a.capacity - load[a.pk]) for a in advisors if a.capacity > load[a.pk]]


def _cooling(request_ids: list[int]) -> dict[int, set[int]]:
    """Per request, the advisors who passed on it within the cool-down."""
    since = timezone.now() - timedelta(seconds=settings.HELP_RING_COOLDOWN_SECONDS)
    cooling: dict[int, set[int]] = defaultdict(set)
    passes = RingPass.objects.filter(request_id__in=request_ids, passed_at__gt=since)
    for request_id, advisor_id in passes.values_list("request_id", "advisor_id"):
        cooling[request_id].add(advisor_id)
    return cooling


def _ring_free_advisors(queue: Queue) -> int:
    room = _room(queue)
    if not room:
        return 0
    requests = list(HelpRequest.objects.filter(queue=queue).ready_to_ring()[:LINE_SHOWN])
    cooling, rung = _cooling([r.pk for r in requests]), 0
    for request in requests:
        slot = next((s for s in room if s.free > 0 and s.advisor.pk not in cooling[request.pk]), None)
        if slot is None:
            continue
        if _ring(request, slot.advisor):
            slot.free -= 1
            rung += 1
    return rung


def _ring(request: HelpRequest, advisor: Advisor) -> bool:
    """Only if it still waits with her page open: the customer may have closed it, or left, since
    the line was read (the update waits for her request's lock and looks again)."""
    ring_until = timezone.now() + timedelta(seconds=settings.HELP_RING_SECONDS)
    still = HelpRequest.objects.filter(pk=request.pk).ready_to_ring()
    if not still.update(status=RequestStatus.RINGING, ringing_advisor=advisor, ring_until=ring_until):
        return False
    request.status, request.ringing_advisor, request.ring_until = RequestStatus.RINGING, advisor, ring_until
    events.ringing(advisor, request)
    return True


# What the people in line are told ---------------------------------------------------------


@dataclass(frozen=True)
class WaitEstimate:
    """From the advisors taking requests now: their slots, how many are free, and the recent
    average conversation."""

    handling: float
    slots: int
    free: int

    def seconds(self, place: int) -> int | None:
        """None while nobody takes requests: no number would be true."""
        if self.slots == 0:
            return None
        ahead = place - 1
        if ahead < self.free:
            return 0
        return int(self.handling * math.ceil((ahead - self.free + 1) / self.slots))


def wait_estimate(queue: Queue) -> WaitEstimate:
    recent = HelpRequest.objects.filter(queue=queue, status=RequestStatus.CLOSED, accepted_at__isnull=False)
    recent = recent.order_by("-closed_at")[:20]
    average = HelpRequest.objects.filter(pk__in=recent).aggregate(seconds=Avg(F("closed_at") - F("accepted_at")))
    handling = average["seconds"].total_seconds() if average["seconds"] else DEFAULT_HANDLING_SECONDS
    advisors = Advisor.objects.taking_requests().filter(queues=queue)
    slots = advisors.aggregate(slots=Sum("capacity"))["slots"] or 0
    active = HelpRequest.objects.filter(advisor__in=advisors, status=RequestStatus.ACTIVE).count()
    return WaitEstimate(handling, slots, max(0, slots - active))


def expected_wait(queue: Queue, place: int) -> int | None:
    """Seconds until the request at `place` is offered to an advisor; None while nobody takes requests."""
    return wait_estimate(queue).seconds(place)


def position(request: HelpRequest) -> int:
    ahead = HelpRequest.objects.filter(queue=request.queue_id).waiting()
    return ahead.filter(
        Q(created_at__lt=request.created_at) | Q(created_at=request.created_at, pk__lte=request.pk)
    ).count()


def _tell_line(queue: Queue) -> None:
    line = list(
        HelpRequest.objects.filter(queue=queue).waiting().select_related("user", "ringing_advisor__user")[:LINE_SHOWN]
    )
    estimate = wait_estimate(queue)
    for place, request in enumerate(line, 1):
        events.position(request.pk, place, estimate.seconds(place))
    events.line(queue.pk, line)


# Presence --------------------------------------------------------------------------------------


def queues_of(advisor_id: int) -> list[int]:
    return list(Advisor.queues.through.objects.filter(advisor_id=advisor_id).values_list("queue_id", flat=True))


def set_presence(advisor: Advisor, presence: str, reason: Said | None = None) -> None:
    """Available takes requests; Busy stays on duty without new ones; Away and Offline are off
    duty. Whatever rang them goes on to someone else when they stop taking requests."""
    with transaction.atomic():
        Advisor.objects.filter(pk=advisor.pk).update(presence=presence, missed_rings=0)
        events.presence(advisor.pk, presence, reason)
    queue_ids = queues_of(advisor.pk)
    if presence != Presence.AVAILABLE:
        withdraw_rings(advisor.pk, presence)
    route_queues(queue_ids)  # rings for someone who now takes requests; the line's estimates change


# Rings ending --------------------------------------------------------------------------------


def put_back(request: HelpRequest, reason: str) -> None:
    """Inside the caller's transaction, with the request locked: a ringing request waits again,
    and the advisor's desk stops ringing."""
    if request.status == RequestStatus.RINGING and request.ringing_advisor_id is not None:
        events.ring_over(request.ringing_advisor_id, request, reason)
    request.status, request.ringing_advisor, request.ring_until = RequestStatus.WAITING, None, None
    request.save(update_fields=["status", "ringing_advisor", "ring_until"])


def _pass_over(request_id: int, advisor_id: int | None, *, missed: bool) -> None:
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().get(pk=request_id)
        if request.status != RequestStatus.RINGING or request.ringing_advisor_id != advisor_id:
            return
        put_back(request, "missed" if missed else "declined")
        if advisor_id is not None:
            RingPass.objects.update_or_create(
                request=request, advisor_id=advisor_id, defaults={"passed_at": timezone.now()}
            )
            _count_answer(advisor_id, missed=missed)
    transaction.on_commit(lambda: route_queue(request.queue_id))


def _count_answer(advisor_id: int, *, missed: bool) -> None:
    """Missed rings in a row; HELP_MISSED_RINGS_AWAY of them set the advisor away (told on the
    desk), and their other rings go on to someone else."""
    advisor = Advisor.objects.select_for_update().get(pk=advisor_id)
    if not missed:
        if advisor.missed_rings:
            Advisor.objects.filter(pk=advisor_id).update(missed_rings=0)
        return
    advisor.missed_rings += 1
    if advisor.missed_rings >= settings.HELP_MISSED_RINGS_AWAY and advisor.presence == Presence.AVAILABLE:
        reason = said(gettext_noop("You missed a request, so you are now away."))
        if advisor.missed_rings > 1:
            many = gettext_noop("You missed %(count)s requests in a row, so you are now away.")
            reason = said(many, count=advisor.missed_rings)
        advisor.presence, advisor.missed_rings = Presence.AWAY, 0
        events.presence(advisor_id, Presence.AWAY, reason)
        transaction.on_commit(lambda: withdraw_rings(advisor_id, "away"))
    advisor.save(update_fields=["presence", "missed_rings"])


def decline_request(advisor: Advisor, request_id: int) -> None:
    _pass_over(request_id, advisor.pk, missed=False)


def expire_rings() -> int:
    """Rings nobody answered in time: missed, and the request goes to the next advisor."""
    late = list(
        HelpRequest.objects.filter(status=RequestStatus.RINGING, ring_until__lt=timezone.now()).values_list(
            "pk", "ringing_advisor_id"
        )
    )
    for request_id, advisor_id in late:
        _pass_over(request_id, advisor_id, missed=True)
    return len(late)


def withdraw_ring(request_id: int, advisor_id: int, reason: str) -> None:
    """The advisor stopped taking requests (or closed the desk): the ring goes on to someone
    else, counting neither as a miss nor as a pass."""
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().get(pk=request_id)
        if request.status != RequestStatus.RINGING or request.ringing_advisor_id != advisor_id:
            return
        put_back(request, reason)
    transaction.on_commit(lambda: route_queue(request.queue_id))


def withdraw_rings(advisor_id: int, reason: str) -> None:
    ringing = HelpRequest.objects.filter(ringing_advisor_id=advisor_id, status=RequestStatus.RINGING)
    for request_id in list(ringing.values_list("pk", flat=True)):
        withdraw_ring(request_id, advisor_id, reason)
