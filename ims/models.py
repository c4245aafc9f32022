"""What crossed the IMS: pager-mode messages (RFC 3428) to and from assigned identities."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import F, Q
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


class PagerMessageQuerySet(models.QuerySet["PagerMessage"]):
    def to_send(self, shard_index: int, shard_count: int) -> PagerMessageQuerySet:
        """Outbound MESSAGEs the IMS core has not answered yet, of one IMS-side shard's identities."""
        on_shard = self.alias(shard=F("assignment_id") % shard_count).filter(shard=shard_index)
        return on_shard.filter(PENDING_OUTBOUND).order_by("pk")

    def overdue(self, before: datetime) -> PagerMessageQuerySet:
        return self.filter(created_at__lt=before)


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

    def __str__(self) -> str:
        return f"{self.direction} {self.remote_uri} {self.started_at:%Y-%m-%d %H:%M}"
