"""Who is here: an advisor takes requests only while a desk of theirs is open, and a customer's
request stays in line only while her help page is. Each open socket is a HelpSocket row; the
last one closing starts a grace period (a reload comes back within it), and the periodic sweep
settles whoever did not come back. A socket of a process that died is taken for closed once the
process stops vouching for its sessions (identity_blocks.sessions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from help_desk import events
from help_desk.actions import close_request
from help_desk.models import Advisor, HelpRequest, HelpSocket, Presence, RequestStatus
from help_desk.routing_actions import put_back, queues_of, route_queue, route_queues, set_presence, withdraw_rings
from identity_blocks import actions as identity_actions
from identity_blocks.holders import Holder
from portal.said import said

OPEN = (RequestStatus.WAITING, RequestStatus.RINGING, RequestStatus.ACTIVE)
NEVER_CAME = "help request withdrawn, no page of the guest's open"
DESK_CLOSED = said(gettext_noop("Your desk was closed, so you are now offline."))


# Advisors ------------------------------------------------------------------------------------


def desk_opened(advisor_id: int, channel_name: str) -> None:
    with transaction.atomic():
        advisor = Advisor.objects.select_for_update().get(pk=advisor_id)
        HelpSocket.objects.get_or_create(channel_name=channel_name, defaults={"advisor": advisor})
        back = advisor.desk_closed_at is not None
        if back:
            Advisor.objects.filter(pk=advisor_id).update(desk_closed_at=None)
    if back and advisor.presence == Presence.AVAILABLE:
        route_queues(queues_of(advisor_id))


def desk_closed(advisor_id: int, channel_name: str) -> None:
    """The advisor's last desk closing: nothing rings for them meanwhile, and they stay on duty
    for HELP_DESK_GRACE_SECONDS (a reload) before the sweep sets them offline."""
    with transaction.atomic():
        advisor = Advisor.objects.select_for_update().get(pk=advisor_id)
        HelpSocket.objects.filter(channel_name=channel_name).delete()
        if advisor.desk_closed_at is not None or HelpSocket.objects.filter(advisor=advisor).exists():
            return
        Advisor.objects.filter(pk=advisor_id).update(desk_closed_at=timezone.now())
    withdraw_rings(advisor_id, "desk closed")
    route_queues(queues_of(advisor_id))


def _desk_gone(advisor_id: int, cutoff: datetime) -> None:
    """On duty with no desk: the grace starts now, or, past it, the advisor goes offline."""
    with transaction.atomic():
        advisor = Advisor.objects.select_for_update().get(pk=advisor_id)
        if advisor.presence not in (Presence.AVAILABLE, Presence.BUSY) or advisor.sockets.exists():
            return
        if advisor.desk_closed_at is None:  # on duty without ever opening a desk (set in the admin)
            Advisor.objects.filter(pk=advisor_id).update(desk_closed_at=timezone.now())
            return
        if advisor.desk_closed_at >= cutoff:
            return
    set_presence(advisor, Presence.OFFLINE, DESK_CLOSED)


# Customers -----------------------------------------------------------------------------------


def page_opened(request_id: int, channel_name: str) -> None:
    """Her help page is open (again): a request of hers waits in line, and the advisor of her
    conversation sees she is back."""
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().get(pk=request_id)
        if request.status not in OPEN:
            return
        HelpSocket.objects.get_or_create(channel_name=channel_name, defaults={"request": request})
        if request.customer_away_since is None and request.customer_left_at is None:
            return
        request.customer_away_since = request.customer_left_at = None
        request.save(update_fields=["customer_away_since", "customer_left_at"])
        events.request_changed(request)
    route_queue(request.queue_id)


def page_closed(request_id: int, channel_name: str) -> None:
    """Her last help page closing: nothing rings for her while she is away, and past
    HELP_CUSTOMER_GRACE_SECONDS the sweep withdraws her request."""
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().get(pk=request_id)
        HelpSocket.objects.filter(channel_name=channel_name).delete()
        if request.status not in OPEN or request.customer_away_since is not None or request.sockets.exists():
            return
        request.customer_away_since = timezone.now()
        request.save(update_fields=["customer_away_since"])
        if request.status == RequestStatus.RINGING:
            put_back(request, "left")
    route_queue(request.queue_id)


def _customer_gone(request_id: int, cutoff: datetime) -> None:
    """Past the grace: a waiting request is withdrawn; in a conversation the advisor is told the
    customer left (the conversation stays theirs to close with a wrap-up note)."""
    with transaction.atomic():
        request = HelpRequest.objects.select_for_update().get(pk=request_id)
        away_since = request.customer_away_since or request.created_at  # or her page never opened
        if request.status not in OPEN or request.customer_left_at or away_since >= cutoff or request.sockets.exists():
            return
        if request.status == RequestStatus.ACTIVE:
            request.customer_left_at = timezone.now()
            request.save(update_fields=["customer_left_at"])
            events.request_changed(request)
            return
        close_request(request_id)
    _identity_done(Holder.of(request))


def _identity_done(holder: Holder) -> None:
    """A guest with no request left open and no page of hers ever connected has no grace running
    on her identity (that starts when a page closes): it is released now."""
    if not HelpRequest.objects.open().filter(**holder.fields).exists():
        identity_actions.guest_never_came(holder, reason=NEVER_CAME)


# The sweep -------------------------------------------------------------------------------------


def _forget_dead_sockets() -> int:
    """Sockets of a process that no longer vouches for its sessions close as a socket does."""
    names = set(HelpSocket.objects.values_list("channel_name", flat=True))
    # Only the names read first: a socket opened since is not in `alive` either.
    dead = HelpSocket.objects.filter(channel_name__in=names - identity_actions.present_channels(list(names)))
    desks = list(dead.filter(advisor__isnull=False).values_list("advisor_id", "channel_name"))
    pages = list(dead.filter(request__isnull=False).values_list("request_id", "channel_name"))
    for advisor_id, name in desks:
        desk_closed(advisor_id, name)
    for request_id, name in pages:
        page_closed(request_id, name)
    return len(desks) + len(pages)


def _settle(ids: list[int], settle: Callable[[int, datetime], None], cutoff: datetime) -> int:
    for pk in ids:
        settle(pk, cutoff)
    return len(ids)


def sweep() -> int:
    """Advisors whose desk stayed closed past the grace go offline; customers whose page did
    leave the line. Returns how many of either (and dead sockets) were settled."""
    now = timezone.now()
    settled = _forget_dead_sockets()
    desk_cutoff = now - timedelta(seconds=settings.HELP_DESK_GRACE_SECONDS)
    deskless = Advisor.objects.on_duty().without_desk()
    deskless = deskless.filter(Q(desk_closed_at__isnull=True) | Q(desk_closed_at__lt=desk_cutoff))
    settled += _settle(list(deskless.values_list("pk", flat=True)), _desk_gone, desk_cutoff)
    page_cutoff = now - timedelta(seconds=settings.HELP_CUSTOMER_GRACE_SECONDS)
    away = HelpRequest.objects.open().without_sockets().filter(customer_left_at__isnull=True)
    away = away.filter(
        Q(customer_away_since__lt=page_cutoff) | Q(customer_away_since__isnull=True, created_at__lt=page_cutoff)
    )
    return settled + _settle(list(away.values_list("pk", flat=True)), _customer_gone, page_cutoff)
