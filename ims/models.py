"""What crossed the IMS: pager-mode messages (RFC 3428) to and from assigned identities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from identity_blocks.models import IdentityAssignment


class Direction(models.TextChoices):
    INBOUND = "in", "from the IMS"
    OUTBOUND = "out", "to the IMS"


class MessageStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"  # the IMS core answered 2xx
    DELIVERED = "delivered"  # inbound: stored and handed to the holder's sessions
    FAILED = "failed"


PENDING_OUTBOUND = Q(direction="out", status="pending")
# What is news to a holder: a message from the other party past her read marker (with_read_marker).
UNREAD = Q(direction=Direction.INBOUND, id__gt=F("read_up_to"))


class PagerMessageQuerySet(models.QuerySet["PagerMessage"]):
    def to_send(self, shard_index: int, shard_count: int) -> PagerMessageQuerySet:
        """Outbound MESSAGEs the IMS core has not answered yet, of one IMS-side shard's identities."""
        on_shard = self.alias(shard=F("assignment_id") % shard_count).filter(shard=shard_index)
        return on_shard.filter(PENDING_OUTBOUND).order_by("pk")

    def overdue(self, before: datetime) -> PagerMessageQuerySet:
        return self.filter(created_at__lt=before)

    def with_read_marker(self) -> PagerMessageQuerySet:
        """Each message beside how far its holder has read the conversation it belongs to
        (`read_up_to`, 0 before any reading), for UNREAD."""
        marker = ReadMarker.objects.filter(assignment=OuterRef("assignment"), remote_uri=OuterRef("remote_uri"))
        return self.alias(read_up_to=Coalesce(Subquery(marker.values("read_up_to")[:1]), 0))

    def unread_count(self) -> int:
        """How many of these messages are news to their holder, in one query."""
        return self.with_read_marker().filter(UNREAD).count()

    def conversations(self) -> QuerySet[PagerMessage, dict[str, Any]]:
        """One row per identity and other party, latest first: when and what was said last, how
        many messages, and how many arrived past the holder's read marker."""
        rows = self.with_read_marker().values("assignment", "remote_uri")
        counted = rows.annotate(
            last_id=Max("id"), last_at=Max("created_at"), total=Count("id"), unread=Count("id", filter=UNREAD)
        )
        return counted.order_by("-last_id")


class PagerMessage(models.Model):
    assignment = models.ForeignKey(IdentityAssignment, on_delete=models.PROTECT, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    local_impu = models.CharField(max_length=255)
    remote_uri = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, default="text/plain")
    body = models.TextField()
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    error = models.CharField(max_length=300, blank=True)
    sip_call_id = models.CharField(max_length=255, blank=True)
    sip_cseq = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = PagerMessageQuerySet.as_manager()

    class Meta:
        # What the IMS side still has to send, found without reading what it sent before.
        indexes = [models.Index(fields=["created_at"], condition=PENDING_OUTBOUND, name="pending_outbound")]
        constraints = [
            # A MESSAGE retransmitted after its transaction ended is still the same message.
            models.UniqueConstraint(
                fields=["direction", "sip_call_id", "sip_cseq"],
                condition=Q(direction="in"),
                name="inbound_message_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.remote_uri}"


class CallRecordQuerySet(models.QuerySet["CallRecord"]):
    def of_identities(self, mine: QuerySet[IdentityAssignment]) -> CallRecordQuerySet:
        """Calls of these identities, on either side (a direct call has one record for both)."""
        return self.filter(Q(assignment__in=mine) | Q(callee__in=mine))

    def missed_by(self, mine: QuerySet[IdentityAssignment]) -> CallRecordQuerySet:
        """Calls that rang one of these identities and ended without being answered."""
        rang = Q(assignment__in=mine, direction=Direction.INBOUND) | Q(callee__in=mine)
        return self.filter(rang, answered_at=None, ended_at__isnull=False)


class CallRecord(models.Model):
    """A call of an assigned identity: who, when, how it ended, which path (`direct` between two
    colleagues' browsers with the portal relaying the signalling and the IMS never seeing it, or
    through the IMS: `passthrough` end to end, `converted` by the media gateway) and, from the
    browser, a summary of its quality. A direct call is one record, naming both identities."""

    key = models.CharField(max_length=64, unique=True)
    assignment = models.ForeignKey(IdentityAssignment, on_delete=models.PROTECT, related_name="calls")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    local_impu = models.CharField(max_length=255)
    remote_uri = models.CharField(max_length=255)
    media = models.CharField(max_length=12, blank=True, help_text="The path: direct, passthrough or converted.")
    callee = models.ForeignKey(
        IdentityAssignment, on_delete=models.PROTECT, null=True, blank=True, related_name="direct_calls_in",
        help_text="A direct call's other identity, the colleague called.",
    )  # fmt: skip
    offering = models.CharField(
        max_length=6, blank=True, help_text="A direct call: the side whose mid-call offer awaits the other's answer."
    )
    codec = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    quality = models.JSONField(default=dict, blank=True, help_text="The browser's getStats summary at the end.")
    seen = models.BooleanField(default=False, help_text="Its holder has looked at the call log since.")

    objects = CallRecordQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.direction} {self.remote_uri} {self.started_at:%Y-%m-%d %H:%M}"


class RefusedAttempt(models.Model):
    """A message or call the portal refused to start from an identity: a destination its agreement
    does not allow, a guest outside the help desk, or over the identity's rate. Kept for the admin:
    a pattern here is someone trying the operator's bill."""

    class Kind(models.TextChoices):
        MESSAGE = "message"
        CALL = "call"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    holder = models.CharField(max_length=100, help_text="Who asked: a member's user name or a guest's key digest.")
    local_impu = models.CharField(max_length=255, blank=True)
    destination = models.CharField(max_length=255)
    reason = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.kind} to {self.destination}: {self.reason}"


class ReadMarker(models.Model):
    """How far the holder of an identity has read the messages of one other party: the last
    message id read. Unread counts are the inbound messages past it."""

    assignment = models.ForeignKey(IdentityAssignment, on_delete=models.CASCADE, related_name="read_markers")
    remote_uri = models.CharField(max_length=255)
    read_up_to = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["assignment", "remote_uri"], name="one_read_marker")]

    def __str__(self) -> str:
        return f"{self.remote_uri} read up to {self.read_up_to}"
