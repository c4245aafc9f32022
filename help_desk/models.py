"""Help-desk queues: where a HELP button's requests wait for an advisor."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Upper
from django.utils import timezone

from help_desk import branding, hours
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
    opening_hours = models.TextField(
        blank=True, validators=[hours.validate_hours],
        help_text="When people may ask for help, e.g. \"Mon-Fri 09:00-17:00; Sat 10:00-13:00\". Empty: always. "
        "Outside them the help page offers the message form.",
    )  # fmt: skip
    time_zone = models.CharField(
        max_length=64, default="Europe/Berlin", validators=[hours.validate_time_zone],
        help_text="The time zone of the opening hours.",
    )  # fmt: skip
    display_name = models.CharField(
        max_length=100, blank=True, help_text="What customers read on the help pages instead of the portal's name. "
        "Empty: the queue's name.",
    )  # fmt: skip
    colour = models.CharField(
        max_length=7, default=branding.DEFAULT_COLOUR, validators=[branding.validate_colour],
        help_text="#rrggbb: the HELP button, the help pages' title bar and buttons; their text is white or black, "
        "whichever reads (WCAG AA).",
    )  # fmt: skip
    logo = models.ImageField(
        upload_to="queue-logos/", blank=True, validators=[branding.validate_logo],
        help_text="PNG, JPEG, WebP or GIF up to 256 KB and 1024 by 1024 pixels, shown beside the name.",
    )  # fmt: skip

    def __str__(self) -> str:
        return self.name

    @property
    def shown_name(self) -> str:
        return self.display_name or self.name

    @property
    def brand_colour(self) -> str:
        return branding.checked(self.colour)

    @property
    def text_colour(self) -> str:
        return branding.text_on(self.brand_colour)

    @property
    def origins(self) -> list[str]:
        return self.embedding_origins.split()

    def is_open(self, now: datetime | None = None) -> bool:
        return hours.is_open(self.opening_hours, self.time_zone, now or timezone.now())


class Presence(models.TextChoices):
    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"


class AdvisorQuerySet(models.QuerySet["Advisor"]):
    def on_duty(self) -> AdvisorQuerySet:
        """Available or Busy: someone is at the desk, whether or not they take new requests."""
        return self.filter(presence__in=[Presence.AVAILABLE, Presence.BUSY])

    def taking_requests(self) -> AdvisorQuerySet:
        """Available with the desk open: the only advisors a request rings."""
        return self.filter(presence=Presence.AVAILABLE, desk_closed_at__isnull=True)

    def without_desk(self) -> AdvisorQuerySet:
        return self.exclude(Exists(HelpSocket.objects.filter(advisor=OuterRef("pk"))))


class Advisor(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="advisor")
    queues = models.ManyToManyField(Queue, related_name="advisors")
    presence = models.CharField(max_length=10, choices=Presence.choices, default=Presence.OFFLINE)
    capacity = models.PositiveSmallIntegerField(default=3, help_text="Conversations at once.")
    # Who has waited longest since their last conversation gets the next one.
    idle_since = models.DateTimeField(default=timezone.now)
    # Set when the last desk socket closed; on duty past HELP_DESK_GRACE_SECONDS of it, the
    # advisor is set offline. Empty while a desk is open.
    desk_closed_at = models.DateTimeField(null=True, blank=True)
    # Rings let run out since the advisor last answered one; HELP_MISSED_RINGS_AWAY sets them away.
    missed_rings = models.PositiveSmallIntegerField(default=0)

    objects = AdvisorQuerySet.as_manager()

    def __str__(self) -> str:
        return self.user.get_username()

    @property
    def display_name(self) -> str:
        """What customers read: the advisor's name, never the log-in name; empty when none is set."""
        return self.user.get_full_name()


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

    def ready_to_ring(self) -> HelpRequestQuerySet:
        """Waiting with the customer's page open: a closed window is never rung."""
        return self.filter(status=RequestStatus.WAITING, customer_away_since__isnull=True).order_by("created_at", "id")

    def without_sockets(self) -> HelpRequestQuerySet:
        return self.exclude(Exists(HelpSocket.objects.filter(request=OuterRef("pk"))))

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
    advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.PROTECT, related_name="conversations")
    accepted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    wrap_up = models.TextField(blank=True)
    # The two identities the chat crosses the IMS between, fixed when the advisor accepts.
    customer_impu = models.CharField(max_length=255, blank=True)
    advisor_impu = models.CharField(max_length=255, blank=True)
    # Her help page has had no socket open since then (empty while it is open, and before it
    # first connects); past HELP_CUSTOMER_GRACE_SECONDS she has left.
    customer_away_since = models.DateTimeField(null=True, blank=True)
    # She left: pressed Leave, or her page stayed closed past the grace.
    customer_left_at = models.DateTimeField(null=True, blank=True)
    # The page of the embedding site that opened the help, as host and path (help_desk.came_from).
    came_from = models.CharField(max_length=300, blank=True)

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


class Rating(models.Model):
    """The customer's rating of her conversation once it ended (CSAT: 1 poor to 5 excellent)."""

    request = models.OneToOneField(HelpRequest, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(max_length=2000, blank=True)
    rated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="score_1_to_5")]

    def __str__(self) -> str:
        return f"{self.score} of 5"


class WrapUpEdit(models.Model):
    """One version of a conversation's wrap-up note, as someone wrote it: the note can be corrected
    after the conversation (in the admin), and every version stays, with who wrote it and when."""

    request = models.ForeignKey(HelpRequest, on_delete=models.CASCADE, related_name="wrap_up_edits")
    text = models.TextField(blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["request", "edited_at", "pk"]

    def __str__(self) -> str:
        return f"#{self.request_id} wrap-up of {self.edited_at:%Y-%m-%d %H:%M}"


class RingPass(models.Model):
    """An advisor let the request ring out or declined it, last at `passed_at`: they are not rung
    for it again until HELP_RING_COOLDOWN_SECONDS later."""

    request = models.ForeignKey(HelpRequest, on_delete=models.CASCADE, related_name="passes")
    advisor = models.ForeignKey(Advisor, on_delete=models.CASCADE, related_name="+")
    passed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "advisor"], name="one_pass_per_advisor")]

    def __str__(self) -> str:
        return f"#{self.request_id} passed by {self.advisor_id}"


class HelpSocket(models.Model):
    """An open WebSocket of an advisor's desk or of a customer's help page, on whichever ASGI
    process holds it (the process's session heartbeat vouches for it)."""

    channel_name = models.CharField(max_length=200, unique=True)
    advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.CASCADE, related_name="sockets")
    request = models.ForeignKey(HelpRequest, null=True, blank=True, on_delete=models.CASCADE, related_name="sockets")
    opened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(advisor__isnull=True, request__isnull=False)
                | Q(advisor__isnull=False, request__isnull=True),
                name="a_desk_or_a_help_page",
            )
        ]

    def __str__(self) -> str:
        return self.channel_name


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
    """Left on the help page when no advisor is on duty or the queue is closed; an advisor answers
    it from the desk's inbox, by e-mail."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="offline_messages")
    name = models.CharField(max_length=100)
    email = models.EmailField()
    message = models.TextField(max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)
    reply = models.TextField(max_length=10000, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["queue", "answered_at"], name="offline_unanswered")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class CannedReply(models.Model):
    """A reply an advisor of the queue picks at the composer and edits before sending."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="canned_replies")
    title = models.CharField(max_length=100)
    text = models.TextField(max_length=5000)

    class Meta:
        ordering = ["queue", "title"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title


class SecureSegmentQuerySet(models.QuerySet["SecureSegment"]):
    def open(self) -> SecureSegmentQuerySet:
        return self.filter(ended_at__isnull=True)

    def of_call(self, key: str) -> SecureSegmentQuerySet:
        """The segment one of the session's two legs (the asker's, the answerer's) belongs to."""
        return self.filter(Q(asker_call=key) | Q(answerer_call=key))


class SecureSegment(models.Model):
    """A stretch of a conversation on the secure chat line: a data channel end to end between the
    two browsers, its session carried by the IMS core. What was said is never here (nor anywhere
    the portal can read): only that it started and ended, between whom, and who asked."""

    request = models.ForeignKey(HelpRequest, on_delete=models.CASCADE, related_name="secure_segments")
    asked_by_advisor = models.BooleanField()
    customer_impu = models.CharField(max_length=255)
    advisor_impu = models.CharField(max_length=255)
    # The IMS side's keys of the session's legs (ims.models.CallRecord.key), as each is connected.
    asker_call = models.CharField(max_length=64, blank=True)
    answerer_call = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    # Each side's browser reported its end of the data channel open (DTLS and SCTP up): the IMS side
    # connects the session before DTLS, which may still refuse the keys. Each side sets only its own.
    opened_by_customer = models.BooleanField(default=False)
    opened_by_advisor = models.BooleanField(default=False)
    # Each side said the short authentication strings on both screens matched.
    verified_by_customer = models.BooleanField(default=False)
    verified_by_advisor = models.BooleanField(default=False)

    objects = SecureSegmentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request"], condition=Q(ended_at__isnull=True), name="one_open_segment")
        ]

    def __str__(self) -> str:
        return f"#{self.request_id} secure from {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def opened(self) -> bool:
        """Both browsers had the line open: a secure chat took place (and nothing of it is here)."""
        return self.opened_by_customer and self.opened_by_advisor

    @property
    def outcome(self) -> str:
        """What the record says took place, in the transcript's and the admin's words."""
        if self.opened:
            return "Secure chat, end to end between the two browsers (not stored)"
        if self.ended_at is None:
            return "The secure line is being opened"
        # Each leg's reason is its own end's view ("the other side: …" when the other end said it).
        reason = self.end_reason.removeprefix("the other side: ") or "no reason given"
        return f"The secure line could not be opened: {reason}"
