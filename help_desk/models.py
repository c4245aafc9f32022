"""Help-desk queues: where a HELP button's requests wait for an advisor."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from identity_blocks.models import IdentityBlock, ServiceAgreement


def validate_origins(value: str) -> None:
    for origin in value.split():
        scheme, _, host = origin.partition("://")
        if scheme not in ("http", "https") or not host or "/" in host:
            raise ValidationError(f"{origin!r} is not an origin such as https://tax.example.com")


class Queue(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True, help_text="Used by the HELP button's data-queue attribute.")
    agreement = models.ForeignKey(
        ServiceAgreement, on_delete=models.PROTECT, help_text="Its allowed services are what the help page offers."
    )
    identity_block = models.ForeignKey(
        IdentityBlock, on_delete=models.PROTECT, help_text="Guests of this queue get their identity from this block."
    )
    embedding_origins = models.TextField(
        blank=True, validators=[validate_origins], help_text="Sites allowed to embed the HELP button, one per line."
    )

    def __str__(self) -> str:
        return self.name

    @property
    def origins(self) -> list[str]:
        return self.embedding_origins.split()


class Presence(models.TextChoices):
    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"


class AdvisorQuerySet(models.QuerySet["Advisor"]):
    def on_duty(self) -> AdvisorQuerySet:
        return self.filter(presence__in=[Presence.AVAILABLE, Presence.BUSY])


class Advisor(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="advisor")
    queues = models.ManyToManyField(Queue, related_name="advisors")
    presence = models.CharField(max_length=10, choices=Presence.choices, default=Presence.OFFLINE)
    capacity = models.PositiveSmallIntegerField(default=3, help_text="Conversations at once.")
    # Who has waited longest since their last conversation gets the next one.
    idle_since = models.DateTimeField(default=timezone.now)

    objects = AdvisorQuerySet.as_manager()

    def __str__(self) -> str:
        return self.user.get_username()


class RequestStatus(models.TextChoices):
    WAITING = "waiting"
    RINGING = "ringing"
    ACTIVE = "active"
    CLOSED = "closed"
    ABANDONED = "abandoned"


class HelpRequestQuerySet(models.QuerySet["HelpRequest"]):
    def open(self) -> HelpRequestQuerySet:
        return self.filter(status__in=[RequestStatus.WAITING, RequestStatus.RINGING, RequestStatus.ACTIVE])

    def waiting(self) -> HelpRequestQuerySet:
        return self.filter(status__in=[RequestStatus.WAITING, RequestStatus.RINGING]).order_by("created_at", "id")

    def open_between(self, one: str, other: str) -> HelpRequestQuerySet:
        """Active conversations whose two identities are these, whichever side is which (the core
        may change the case of a URI's host)."""
        from_customer = Q(customer_impu__iexact=one, advisor_impu__iexact=other)
        to_customer = Q(customer_impu__iexact=other, advisor_impu__iexact=one)
        return self.filter(from_customer | to_customer, status=RequestStatus.ACTIVE).order_by("pk")


class HelpRequest(models.Model):
    """Jane's request for help, and once an advisor accepts it, their conversation."""

    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="requests")
    guest_key = models.CharField(max_length=64, blank=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mode = models.CharField(max_length=10, choices=[("chat", "Chat"), ("voice", "Voice"), ("video", "Video")])
    secure = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.WAITING)
    created_at = models.DateTimeField(default=timezone.now)
    ringing_advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ring_until = models.DateTimeField(null=True, blank=True)
    passed_over = models.ManyToManyField(
        Advisor, blank=True, related_name="+", help_text="Declined or let it ring out."
    )
    advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.PROTECT, related_name="conversations")
    accepted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    wrap_up = models.TextField(blank=True)
    next_seq = models.PositiveIntegerField(default=1, editable=False)
    # The two identities the chat crosses the IMS between, fixed when the advisor accepts.
    customer_impu = models.CharField(max_length=255, blank=True)
    advisor_impu = models.CharField(max_length=255, blank=True)

    objects = HelpRequestQuerySet.as_manager()

    class Meta:
        # Each chat message arriving from the IMS finds its open conversation by the two identities.
        indexes = [
            models.Index(
                Upper("customer_impu"), Upper("advisor_impu"), condition=Q(status="active"), name="open_between"
            )
        ]

    def __str__(self) -> str:
        return f"help request #{self.pk}"


class ChatMessage(models.Model):
    """One message of a conversation, numbered by the server in the order it arrived."""

    request = models.ForeignKey(HelpRequest, on_delete=models.CASCADE, related_name="messages")
    # Given when the message is stored on arrival; empty while it is still crossing the IMS.
    seq = models.PositiveIntegerField(null=True, blank=True)
    failed = models.CharField(max_length=300, blank=True, help_text="Why it could not be delivered.")
    from_advisor = models.BooleanField()
    body = models.TextField()
    client_id = models.CharField(max_length=64, help_text="The sender's own id: a resend is the same message.")
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the message crossed the IMS (SIP MESSAGE between the two identities).
    pager_message = models.OneToOneField("ims.PagerMessage", null=True, blank=True, on_delete=models.SET_NULL)
    sent_as = models.OneToOneField(
        "ims.PagerMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_sent"
    )
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["request", "seq"], name="one_message_per_seq"),
            models.UniqueConstraint(fields=["request", "from_advisor", "client_id"], name="sent_once"),
        ]

    def __str__(self) -> str:
        return f"#{self.request_id}.{self.seq}"


class OfflineMessage(models.Model):
    """Left on the help page when no advisor is on duty."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="offline_messages")
    name = models.CharField(max_length=100)
    email = models.EmailField()
    message = models.TextField(max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)
    handled = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
