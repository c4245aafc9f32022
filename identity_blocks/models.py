"""Operators, service agreements, leased identity blocks and the assignment of their IMPUs."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Now, Upper
from django.utils import timezone
from django.utils.functional import Promise

from identity_blocks import destinations, ranges
from sip.uri import InvalidUri, parse_uri

if TYPE_CHECKING:
    from collections.abc import Iterable

    from identity_blocks.holders import Holder

# Stable +sip.instance values (RFC 5626) derive from the IMPU under this namespace.
INSTANCE_NAMESPACE = uuid.UUID("6f1b2f0e-3c55-4a8e-9d7e-1c9a5d0b7a11")


def validate_sip_uri(value: str) -> None:
    try:
        parse_uri(value)
    except InvalidUri as error:
        raise ValidationError(str(error)) from None


class Operator(models.Model):
    name = models.CharField(max_length=100, unique=True)
    outbound_proxy = models.CharField(
        max_length=255, validators=[validate_sip_uri], help_text="SIP URI of the P-CSCF, e.g. sip:pcscf.op.net;lr"
    )
    home_domain = models.CharField(max_length=253, help_text="Every SIP identity leased from it lies in this domain.")
    realm = models.CharField(max_length=253, help_text="Digest realm of its registrar.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class ServiceAgreementQuerySet(models.QuerySet["ServiceAgreement"]):
    def in_force(self, now: datetime | None = None) -> ServiceAgreementQuerySet:
        now = now or timezone.now()
        return self.filter(valid_from__lte=now).filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))


class ServiceAgreement(models.Model):
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="agreements")
    name = models.CharField(max_length=100)
    third_party = models.CharField(
        max_length=100, help_text="Who leases the identities (the tax advisor, the enterprise)."
    )
    allows_chat = models.BooleanField(default=True)
    allows_secure_chat = models.BooleanField(default=False)
    allows_voice = models.BooleanField(default=False)
    allows_video = models.BooleanField(default=False)
    passthrough_codecs = models.CharField(
        max_length=200, blank=True, help_text="Codecs that may cross the IMS unconverted, comma-separated (e.g. opus)."
    )
    reachable_domains = models.CharField(
        max_length=1000, blank=True, validators=[destinations.validate_domains],
        help_text="SIP domains beyond the operator's home domain that members may message and call, "
        "comma-separated; subdomains included.",
    )  # fmt: skip
    reachable_prefixes = models.CharField(
        max_length=1000, blank=True, validators=[destinations.validate_prefixes],
        help_text="Telephone number prefixes members may message and call (E.164, e.g. +49, +4930), "
        "comma-separated. Empty: no telephone numbers.",
    )  # fmt: skip
    accepts_bearer_tokens = models.BooleanField(
        default=False, help_text="The operator accepts portal-issued Bearer tokens (RFC 8898) instead of Digest."
    )
    max_registrations = models.PositiveIntegerField(help_text="Identities registered (assigned) at once.")
    max_sessions = models.PositiveIntegerField(help_text="Calls and chats at once.")
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    # Kept in the assignment transaction: a COUNT over live assignments would grow with them.
    live_assignments = models.PositiveIntegerField(default=0, editable=False)

    objects = ServiceAgreementQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator", "name"], name="agreement_name_per_operator"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="agreement_period",
                violation_error_message="An agreement's valid_until must be after its valid_from.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.third_party}: {self.name}"

    @property
    def codecs(self) -> list[str]:
        return [codec.strip().lower() for codec in self.passthrough_codecs.split(",") if codec.strip()]

    def refusal(self, to: str) -> str | Promise | None:
        """Why its identities may not reach `to` (identity_blocks.destinations), or None."""
        return destinations.refusal(to, self.operator.home_domain, self.reachable_domains, self.reachable_prefixes)


class BlockKind(models.TextChoices):
    SUBDOMAIN = "subdomain", "Every identity under a sub-domain"
    SIP_RANGE = "sip_range", "Numbered range of SIP URIs"
    TEL_RANGE = "tel_range", "Range of E.164 tel URIs"
    LIST = "list", "Explicit list"


class BlockStatus(models.TextChoices):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"


class AuthScheme(models.TextChoices):
    DIGEST_BLOCK = "digest_block", "Digest, one credential for the block"
    DIGEST_SHARED = "digest_shared", "Digest, one password for the block; each identity its own user name"
    DIGEST_IDENTITY = "digest_identity", "Digest, a credential per identity"
    BEARER = "bearer", "Bearer token issued by the portal (RFC 8898)"


class Audience(models.TextChoices):
    MEMBERS = "members", "Logged-in users (sticky)"
    GUESTS = "guests", "Guests (ephemeral)"
    ANYONE = "anyone", "Both"


def audience_of(holder: Holder) -> str:
    """Which blocks' audience a holder belongs to (besides blocks for anyone)."""
    return Audience.MEMBERS if holder.is_member else Audience.GUESTS


class IdentityBlockQuerySet(models.QuerySet["IdentityBlock"]):
    def unexpired(self) -> IdentityBlockQuerySet:
        return self.exclude(status=BlockStatus.EXPIRED)

    def assignable(self, now: datetime | None = None) -> IdentityBlockQuerySet:
        now = now or timezone.now()
        agreements = ServiceAgreement.objects.in_force(now)
        return (
            self.filter(status=BlockStatus.ACTIVE, starts_at__lte=now, agreement__in=agreements)
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
            .order_by("id")
        )

    def serving(self, holder: Holder) -> IdentityBlockQuerySet:
        return self.for_audience(audience_of(holder))

    def for_audience(self, audience: str) -> IdentityBlockQuerySet:
        return self.filter(audience__in=[audience, Audience.ANYONE])

    def with_usage(self) -> IdentityBlockQuerySet:
        return self.annotate(assigned=models.Count("assignments", filter=Q(assignments__released_at__isnull=True)))

    def ended(self) -> IdentityBlockQuerySet:
        return self.unexpired().filter(ends_at__lte=timezone.now())


class IdentityBlock(models.Model):
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="blocks")
    agreement = models.ForeignKey(ServiceAgreement, on_delete=models.PROTECT, related_name="blocks")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=BlockKind.choices)
    pattern = models.CharField(
        max_length=255, blank=True, help_text="sip_range: e.g. sip:help-{n:04d}@help.example.net"
    )
    domain = models.CharField(max_length=253, blank=True, help_text="subdomain: the sub-domain leased whole")
    first = models.BigIntegerField(null=True, blank=True, help_text="Ranges: first number (tel: first E.164 number)")
    last = models.BigIntegerField(
        null=True, blank=True, help_text="Ranges: last number; sub-domain: how many identities"
    )
    identities = models.TextField(blank=True, help_text="list: one SIP or tel URI per line")
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.ANYONE)
    status = models.CharField(max_length=10, choices=BlockStatus.choices, default=BlockStatus.ACTIVE)
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    auth_scheme = models.CharField(max_length=20, choices=AuthScheme.choices, default=AuthScheme.DIGEST_BLOCK)
    auth_username = models.CharField(
        max_length=255,
        blank=True,
        help_text=(
            "One credential for the block: the private identity (IMPI) every identity registers with. "
            "One password, own user names: each identity's user name, from {user} (the URI's user part or "
            "number), {host} and {impu}; empty means {user}."
        ),
    )
    # Digest needs only H(username:realm:password), so the password itself is never stored.
    ha1_md5 = models.CharField(max_length=32, blank=True, editable=False)
    ha1_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    credentials_realm = models.CharField(max_length=253, blank=True, editable=False)
    # One password under each identity's own user name needs the password itself: sealed, never in clear.
    sealed_password = models.TextField(blank=True, editable=False)
    size = models.BigIntegerField(editable=False)
    # Identities below this index have been handed out at least once; released ones wait in
    # FreeIdentity, so a block of a million needs no million rows.
    next_index = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = IdentityBlockQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(next_index__gte=0) & Q(next_index__lte=F("size")), name="block_high_water"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def definition(self) -> ranges.Definition:
        """Raises ranges.InvalidDefinition with a message for the admin."""
        if self.kind == BlockKind.SIP_RANGE:
            return ranges.Definition(ranges.parse_pattern(self.pattern, *self._range()))
        if self.kind == BlockKind.TEL_RANGE:
            first, last = self._range()
            if first < 1 or len(str(last)) > 15:
                raise ranges.InvalidDefinition("E.164 numbers have 1 to 15 digits and no leading zero")
            return ranges.Definition(ranges.parse_pattern("tel:+{n}", first, last))
        if self.kind == BlockKind.SUBDOMAIN:
            domain = self.domain.strip().lower().rstrip(".")
            return ranges.Definition(ranges.subdomain_family(domain, self.last or 0), claimed_domain=domain)
        return ranges.Definition(listed=ranges.parse_list(self.identities))

    def _range(self) -> tuple[int, int]:
        if self.first is None or self.last is None:
            raise ranges.InvalidDefinition("a range needs its first and last number")
        return self.first, self.last

    def impu(self, index: int) -> str:
        return self.definition().impu(index)


class IdentityCredential(models.Model):
    """Digest credentials of one identity, for blocks whose operator issues them per IMPU."""

    block = models.ForeignKey(IdentityBlock, on_delete=models.CASCADE, related_name="credentials")
    impu = models.CharField(max_length=255)
    username = models.CharField(max_length=255)
    ha1_md5 = models.CharField(max_length=32, editable=False)
    ha1_sha256 = models.CharField(max_length=64, editable=False)
    realm = models.CharField(max_length=253, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["block", "impu"], name="one_credential_per_identity")]

    def __str__(self) -> str:
        return self.impu


class FreeIdentity(models.Model):
    """An index below the block's high-water mark that is free again after a release."""

    block = models.ForeignKey(IdentityBlock, on_delete=models.CASCADE, related_name="free_identities")
    index = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["block", "index"], name="free_once")]

    def __str__(self) -> str:
        return f"{self.block_id}#{self.index}"


class RegistrationState(models.TextChoices):
    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    DEREGISTERING = "deregistering"
    FAILED = "failed"


LIVE = Q(released_at__isnull=True)


class IdentityAssignmentQuerySet(models.QuerySet["IdentityAssignment"]):
    def live(self) -> IdentityAssignmentQuerySet:
        return self.filter(LIVE)

    def of(self, holder: Holder) -> IdentityAssignmentQuerySet:
        return self.filter(**holder.fields)

    def held_by(self, holders: Iterable[Holder]) -> IdentityAssignmentQuerySet:
        """Of any of these members or guests."""
        users = {holder.user_id for holder in holders if holder.is_member}
        guests = {holder.guest_key for holder in holders if not holder.is_member}
        return self.filter(Q(user_id__in=users) | Q(guest_key__in=guests))

    def for_shard(self, index: int, count: int) -> IdentityAssignmentQuerySet:
        return self.annotate(shard=F("id") % count).filter(shard=index)

    def awake(self) -> IdentityAssignmentQuerySet:
        """Live and meant to be registered: not a member's identity at rest."""
        return self.live().filter(resting=False)

    def due_for_rest(self) -> IdentityAssignmentQuerySet:
        present = Exists(HolderSession.objects.present().of_outer())
        return self.awake().filter(rest_after__lte=timezone.now()).exclude(present)

    def due_for_release(self) -> IdentityAssignmentQuerySet:
        # A holder present again (a session opened while its grace period was being set) keeps it.
        present = Exists(HolderSession.objects.present().of_outer())
        return self.live().filter(release_after__lte=timezone.now()).exclude(present)

    def stuck_deregistering(self, before: object) -> IdentityAssignmentQuerySet:
        return self.live().filter(registration_state=RegistrationState.DEREGISTERING, release_requested_at__lte=before)

    def stuck_resting(self, before: object) -> IdentityAssignmentQuerySet:
        going = self.live().filter(registration_state=RegistrationState.DEREGISTERING, release_requested_at=None)
        return going.filter(registration_changed_at__lte=before)


class IdentityAssignment(models.Model):
    block = models.ForeignKey(IdentityBlock, on_delete=models.PROTECT, related_name="assignments")
    index = models.BigIntegerField()
    impu = models.CharField(max_length=255, db_index=True)
    # Indexed by assignment_user_latest and assignment_guest_latest, which lead with them.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, db_index=False)
    guest_key = models.CharField(max_length=64, blank=True)
    sticky = models.BooleanField()
    assigned_at = models.DateTimeField(default=timezone.now)
    release_after = models.DateTimeField(null=True, blank=True, help_text="Ephemeral: released at this time.")
    # A member's identity stays hers while she is away (logged out, every window closed for the
    # grace period) but is not registered: at rest. Logging in or opening a window wakes it.
    resting = models.BooleanField(default=False, help_text="Kept for its member but not registered.")
    rest_after = models.DateTimeField(null=True, blank=True, help_text="Sticky: de-registered at this time.")
    release_requested_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True, db_index=True)
    release_reason = models.CharField(max_length=200, blank=True)
    registration_state = models.CharField(
        max_length=15, choices=RegistrationState.choices, default=RegistrationState.UNREGISTERED
    )
    registration_error = models.CharField(max_length=500, blank=True)
    registered_until = models.DateTimeField(null=True, blank=True)
    registration_changed_at = models.DateTimeField(default=timezone.now)

    objects = IdentityAssignmentQuerySet.as_manager()

    class Meta:
        constraints = [
            # The database, not Python, guarantees an IMPU is never live twice.
            models.UniqueConstraint(fields=["block", "index"], condition=LIVE, name="identity_live_once"),
            models.UniqueConstraint(fields=["impu"], condition=LIVE, name="impu_live_once"),
            models.UniqueConstraint(fields=["user"], condition=LIVE & Q(user__isnull=False), name="user_live_once"),
            models.UniqueConstraint(fields=["guest_key"], condition=LIVE & ~Q(guest_key=""), name="guest_live_once"),
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(guest_key="")) | (Q(user__isnull=True) & ~Q(guest_key="")),
                name="assignment_has_one_holder",
            ),
        ]
        # An inbound MESSAGE or INVITE finds its identity case-insensitively (impu__iexact); without
        # this, every one scanned every assignment ever made.
        indexes = [
            models.Index(Upper("impu"), name="assignment_impu_upper"),
            # A holder's latest assignment first (released_at DESC puts the live one, NULL, first):
            # a returning member or guest is one index entry away, however long their history.
            models.Index(fields=["user", "-released_at"], name="assignment_user_latest"),
            models.Index(fields=["guest_key", "-released_at"], name="assignment_guest_latest"),
        ]

    def __str__(self) -> str:
        return self.impu

    @property
    def is_live(self) -> bool:
        return self.released_at is None

    @property
    def instance_id(self) -> str:
        """The persistent +sip.instance of this identity (RFC 5626), the same on every assignment."""
        return f"<urn:uuid:{uuid.uuid5(INSTANCE_NAMESPACE, self.impu.lower())}>"


class IdentityWait(models.Model):
    """A holder waiting in line for an identity because every one was taken."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    guest_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    served_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["served_at", "id"], name="waiting_line")]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(served_at__isnull=True, user__isnull=False), name="user_waits_once"
            ),
            models.UniqueConstraint(
                fields=["guest_key"], condition=Q(served_at__isnull=True) & ~Q(guest_key=""), name="guest_waits_once"
            ),
        ]

    def __str__(self) -> str:
        return f"wait #{self.pk}"


def session_lifetime() -> timedelta:
    """A session not seen for this long is taken for dead: its process missed three heartbeats."""
    return timedelta(seconds=3 * settings.IDENTITY_SESSION_HEARTBEAT_SECONDS)


class HolderSessionQuerySet(models.QuerySet["HolderSession"]):
    """Session times are the database's own clock (Now()), so that ASGI hosts whose clocks
    differ agree on which sessions are alive."""

    def present(self) -> HolderSessionQuerySet:
        """The one definition of a holder being here: sessions their process still vouches for."""
        return self.filter(seen_at__gte=Now() - session_lifetime())

    def stale(self) -> HolderSessionQuerySet:
        return self.filter(seen_at__lt=Now() - session_lifetime())

    def of(self, holder: Holder) -> HolderSessionQuerySet:
        return self.filter(**holder.fields)

    def of_outer(self) -> HolderSessionQuerySet:
        """In a subquery: the sessions of the outer row's holder (an assignment's, a request's)."""
        return self.filter(Q(user_id=OuterRef("user_id")) | Q(guest_key=OuterRef("guest_key"), guest_key__gt=""))


class HolderSession(models.Model):
    """One open browser session (WebSocket) of a holder, on whichever ASGI process holds it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    guest_key = models.CharField(max_length=64, blank=True, db_index=True)
    channel_name = models.CharField(max_length=200, unique=True)
    opened_at = models.DateTimeField(default=timezone.now)
    # Touched by its process every IDENTITY_SESSION_HEARTBEAT_SECONDS (identity_blocks.sessions).
    # Not indexed: then a heartbeat's UPDATE changes no indexed column and stays a HOT update,
    # writing no index entry; the sweep of stale rows reads this small table (one row per open
    # socket) whole instead.
    seen_at = models.DateTimeField(db_default=Now())

    objects = HolderSessionQuerySet.as_manager()

    def __str__(self) -> str:
        return self.channel_name
