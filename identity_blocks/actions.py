"""Every state change of identity blocks and assignments. Views, the API, consumers, the IMS side
and Celery tasks all come through here."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from identity_blocks import claims, credentials, events
from identity_blocks.credentials import digest_secret
from identity_blocks.holders import Holder
from identity_blocks.models import (
    AuthScheme,
    BlockStatus,
    FreeIdentity,
    HolderSession,
    IdentityAssignment,
    IdentityBlock,
    IdentityCredential,
    IdentityWait,
    RegistrationState,
    ServiceAgreement,
    audience_of,
)
from identity_blocks.ranges import InvalidDefinition, check_in_domain
from portal.locks import advisory_lock

__all__ = [
    "InvalidDefinition",
    "NoIdentityFree",
    "assign_identity",
    "expire_block",
    "expire_stale_sessions",
    "has_open_session",
    "holder_left",
    "mark_deregistered",
    "mark_registered",
    "mark_registering",
    "mark_registration_failed",
    "mark_unreachable",
    "release_identity",
    "request_reregistration",
    "resume_block",
    "save_block",
    "session_closed",
    "session_opened",
    "sessions_seen",
    "set_block_credentials",
    "set_identity_credentials",
    "suspend_block",
]


_BLOCK_DEFINITIONS_LOCK = 0x1DB10C
_WAITING_LINE_LOCK = 0x1DB11E


class NoIdentityFree(Exception):
    """Every identity the holder could get is taken; the holder now waits at `position`."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.retry_after = settings.IDENTITY_RETRY_AFTER_SECONDS
        super().__init__(f"No IMS identity is free right now; you are number {position} in line.")


# Assignment -------------------------------------------------------------------------------


def assign_identity(holder: Holder, *, blocks: Iterable[IdentityBlock] | None = None) -> IdentityAssignment:
    """The holder's live identity, assigning one if it has none. Raises NoIdentityFree."""
    current = _live(holder)
    if current is not None:
        return _welcome_back(current)
    head = _head_of_line(holder)
    if head is not None and head != holder:
        raise NoIdentityFree(_wait_in_line(holder))
    assignment = _assign_from(holder, blocks)
    if assignment is None:
        raise NoIdentityFree(_wait_in_line(holder))
    if head == holder:
        IdentityWait.objects.filter(served_at=None, **holder.fields).update(served_at=timezone.now())
    return assignment


def _live(holder: Holder) -> IdentityAssignment | None:
    """The holder's latest assignment, if it is live: one entry of the index on (holder,
    released_at DESC) whatever the holder's history (asked as "live and the holder's", the
    planner may walk every live assignment)."""
    latest = IdentityAssignment.objects.of(holder).order_by(F("released_at").desc(nulls_first=True)).first()
    return latest if latest is not None and latest.released_at is None else None


def _assignable(holder: Holder) -> list[IdentityBlock]:
    return list(IdentityBlock.objects.assignable(timezone.now()).for_audience(audience_of(holder)))


def _assign_from(holder: Holder, blocks: Iterable[IdentityBlock] | None) -> IdentityAssignment | None:
    candidates = blocks if blocks is not None else _assignable(holder)
    for block in candidates:
        try:
            assignment = claims.take_identity(block, holder)
        except IntegrityError:
            # A concurrent request of the same holder committed first: that one is the answer.
            existing = _live(holder)
            if existing is None:
                raise
            return existing
        if assignment is not None:
            events.identity_assigned(assignment)
            return assignment
    return None


def _welcome_back(assignment: IdentityAssignment) -> IdentityAssignment:
    """The holder is here: no release or rest is due, and an identity at rest registers again."""
    if assignment.release_after is None and assignment.rest_after is None and not assignment.resting:
        return assignment
    with transaction.atomic():
        current = IdentityAssignment.objects.select_for_update().get(pk=assignment.pk)
        woken = current.resting
        current.release_after = current.rest_after = None
        current.resting = False
        current.save(update_fields=["release_after", "rest_after", "resting"])
        if woken and current.registration_state in (RegistrationState.UNREGISTERED, RegistrationState.FAILED):
            events.reregistration_requested(current)  # one still de-registering comes back when done
    return current


def retry_after() -> int:
    return int(settings.IDENTITY_RETRY_AFTER_SECONDS)


def live_identity(holder: Holder) -> IdentityAssignment | None:
    """The holder's live identity, if any; assigns nothing."""
    return _live(holder)


def place_in_line(holder: Holder) -> int | None:
    """The holder's place among those waiting for an identity, if it waits."""
    wait = IdentityWait.objects.filter(served_at=None, **holder.fields).first()
    return None if wait is None else int(_line(holder.is_member).filter(id__lte=wait.pk).count())


# The waiting line ------------------------------------------------------------------------


def _line(members: bool) -> QuerySet[IdentityWait]:
    """Members and guests wait in separate lines: they are served by different blocks."""
    return IdentityWait.objects.filter(served_at=None, user__isnull=not members)


def _head_of_line(holder: Holder) -> Holder | None:
    head = _line(holder.is_member).order_by("id").values_list("user_id", "guest_key").first()
    return None if head is None else Holder(user_id=head[0], guest_key=head[1])


def _wait_in_line(holder: Holder) -> int:
    # Serialized, so that each newcomer counts every one who joined before it: the rare path.
    with transaction.atomic():
        advisory_lock(_WAITING_LINE_LOCK)
        wait, _ = IdentityWait.objects.get_or_create(served_at=None, **holder.fields)
        return int(_line(holder.is_member).filter(id__lte=wait.pk).count())


def serve_waiting_line(limit: int = 100) -> int:
    """Assign freed identities to those waiting, first come first served. Returns how many."""
    served = 0
    for wait in IdentityWait.objects.filter(served_at=None).order_by("id")[:limit]:
        holder = Holder.of(wait)
        if _assign_from(holder, None) is None:
            continue
        IdentityWait.objects.filter(pk=wait.pk).update(served_at=timezone.now())
        if not holder.is_member and not has_open_session(holder):
            holder_left(holder)  # served while away (or gone for good): hers if she is back within the grace
        served += 1
    for position, wait in enumerate(IdentityWait.objects.filter(served_at=None).order_by("id")[:limit], 1):
        events.waiting_line_moved(Holder.of(wait), position)
    return served


# Release ---------------------------------------------------------------------------------


def release_identity(assignment_id: int, *, reason: str, serve_line: bool = True) -> IdentityAssignment:
    """Release now if the IMS does not know the identity, else de-register it first.
    `serve_line=False` leaves the waiting line to the caller, which releases many at once."""
    with transaction.atomic():
        assignment = IdentityAssignment.objects.select_for_update().get(pk=assignment_id)
        if not assignment.is_live or assignment.release_requested_at is not None:
            return assignment
        if assignment.registration_state == RegistrationState.DEREGISTERING:  # going to rest: leave instead
            assignment.release_requested_at = timezone.now()
            assignment.release_reason = reason
            assignment.save(update_fields=["release_requested_at", "release_reason"])
            return assignment
        if assignment.registration_state in (RegistrationState.REGISTERED, RegistrationState.REGISTERING):
            assignment.registration_state = RegistrationState.DEREGISTERING
            assignment.release_requested_at = timezone.now()
            assignment.release_reason = reason
            assignment.save(update_fields=["registration_state", "release_requested_at", "release_reason"])
            events.deregistration_requested(assignment)
            return assignment
        _finish_release(assignment, reason, serve_line=serve_line)
    return assignment


def _finish_release(assignment: IdentityAssignment, reason: str, *, serve_line: bool = True) -> None:
    """Inside the caller's transaction, with the assignment row locked."""
    now = timezone.now()
    assignment.released_at = now
    assignment.release_reason = assignment.release_reason or reason
    assignment.registration_state = RegistrationState.UNREGISTERED
    assignment.registration_changed_at = now
    assignment.save()
    block = IdentityBlock.objects.only("status", "agreement_id").get(pk=assignment.block_id)
    if block.status != BlockStatus.EXPIRED:
        FreeIdentity.objects.create(block_id=assignment.block_id, index=assignment.index)
    ServiceAgreement.objects.filter(pk=block.agreement_id).update(live_assignments=F("live_assignments") - 1)
    events.identity_changed(assignment)
    if serve_line:
        transaction.on_commit(serve_waiting_line)


def holder_left(holder: Holder) -> None:
    """The holder's last browser session closed: after a grace period a guest's identity goes,
    a member's rests (de-registered, still hers)."""
    if holder.is_member:
        grace = timedelta(seconds=settings.IDENTITY_MEMBER_GRACE_SECONDS)
        IdentityAssignment.objects.awake().of(holder).update(rest_after=timezone.now() + grace)
        return
    grace = timedelta(seconds=settings.IDENTITY_GUEST_GRACE_SECONDS)
    IdentityAssignment.objects.live().of(holder).update(release_after=timezone.now() + grace)


def guest_never_came(holder: Holder, *, reason: str) -> None:
    """What a guest's identity was for ended and no browser session of hers is open: with no grace
    running (her page never connected, so none closed), nothing else would release it; it goes now."""
    if holder.is_member or has_open_session(holder):
        return
    assignment = _live(holder)
    if assignment is not None and assignment.release_after is None:
        release_identity(assignment.pk, reason=reason)


def member_logged_in(holder: Holder, *, administers_only: bool = False) -> None:
    """Her identity is assigned, or woken, at log-in; when none is free she waits in line. One who
    only administers the portal is given none unless she held one before (the desk and the
    identity page give one on demand)."""
    if administers_only and _live(holder) is None:
        return
    with contextlib.suppress(NoIdentityFree):
        assign_identity(holder)


def member_logged_out(holder: Holder) -> None:
    assignment = _live(holder)
    if assignment is not None:
        rest_identity(assignment.pk)


def rest_identity(assignment_id: int) -> None:
    """De-register a member's identity and keep it hers."""
    with transaction.atomic():
        assignment = IdentityAssignment.objects.select_for_update().get(pk=assignment_id)
        if not assignment.is_live or assignment.resting:
            return
        assignment.resting, assignment.rest_after = True, None
        registered = assignment.registration_state in (RegistrationState.REGISTERED, RegistrationState.REGISTERING)
        if assignment.registration_state != RegistrationState.DEREGISTERING:
            assignment.registration_state = (
                RegistrationState.DEREGISTERING if registered else RegistrationState.UNREGISTERED
            )
            assignment.registration_changed_at = timezone.now()
        assignment.save()
        if registered:
            events.deregistration_requested(assignment)
        else:
            events.identity_changed(assignment)


def rest_due_identities() -> int:
    due = list(IdentityAssignment.objects.due_for_rest().values_list("pk", flat=True))
    for pk in due:
        rest_identity(pk)
    return len(due)


def release_due_identities() -> int:
    due = list(IdentityAssignment.objects.due_for_release().values_list("pk", flat=True))
    for pk in due:
        release_identity(pk, reason="guest session ended", serve_line=False)
    serve_waiting_line()
    return len(due)


def finish_stuck_deregistrations() -> int:
    """The IMS side did not confirm in time (down, or the core unreachable): release anyway."""
    before = timezone.now() - timedelta(seconds=settings.IDENTITY_DEREGISTER_TIMEOUT_SECONDS)
    stuck = list(IdentityAssignment.objects.stuck_deregistering(before).values_list("pk", flat=True))
    for pk in stuck:
        with transaction.atomic():
            assignment = IdentityAssignment.objects.select_for_update().get(pk=pk)
            if assignment.is_live:
                assignment.registration_error = "de-registration not confirmed in time"
                _finish_release(assignment, "de-registration timed out", serve_line=False)
    resting = IdentityAssignment.objects.stuck_resting(before).values_list("pk", flat=True)
    for pk in list(resting):
        _set_state(pk, RegistrationState.UNREGISTERED, registration_error="de-registration not confirmed in time")
    serve_waiting_line()
    return len(stuck)


# Registration state, written back by the IMS side ----------------------------------------


def _set_state(assignment_id: int, state: str, **fields: object) -> IdentityAssignment | None:
    with transaction.atomic():
        assignment = IdentityAssignment.objects.select_for_update().filter(pk=assignment_id).first()
        if assignment is None or not assignment.is_live:
            return None
        if assignment.registration_state == RegistrationState.DEREGISTERING and state != RegistrationState.UNREGISTERED:
            return assignment  # a late REGISTER answer must not resurrect an identity on its way out
        assignment.registration_state = state
        assignment.registration_changed_at = timezone.now()
        for name, value in fields.items():
            setattr(assignment, name, value)
        assignment.save()
        events.identity_changed(assignment)
        return assignment


def mark_registering(assignment_id: int) -> IdentityAssignment | None:
    return _set_state(assignment_id, RegistrationState.REGISTERING)


def mark_registered(assignment_id: int, *, until: datetime) -> IdentityAssignment | None:
    return _set_state(assignment_id, RegistrationState.REGISTERED, registered_until=until, registration_error="")


def mark_registration_failed(assignment_id: int, *, reason: str) -> IdentityAssignment | None:
    return _set_state(assignment_id, RegistrationState.FAILED, registration_error=reason[:500], registered_until=None)


# What the pages show while the IMS side cannot reach the core (static/js/identity.js and desk.js
# and templates/ims/my_identity.html compare against it).
UNREACHABLE = "the core is unreachable"


def mark_unreachable(assignment_id: int) -> IdentityAssignment | None:
    """The core does not answer: the binding may be lost. Still registering (the IMS side tries
    again, and a release still goes through it), with the reason shown until it is registered."""
    state = RegistrationState.REGISTERING
    return _set_state(assignment_id, state, registration_error=UNREACHABLE, registered_until=None)


def mark_deregistered(assignment_id: int) -> IdentityAssignment | None:
    """The IMS no longer holds a binding: finish a pending release, or just record it."""
    with transaction.atomic():
        assignment = IdentityAssignment.objects.select_for_update().filter(pk=assignment_id).first()
        if assignment is None:
            return None
        leaving = assignment.registration_state == RegistrationState.DEREGISTERING
        if leaving and assignment.release_requested_at is not None:
            _finish_release(assignment, assignment.release_reason)
            return assignment
        done = _set_state(assignment_id, RegistrationState.UNREGISTERED, registered_until=None)
        if leaving and done is not None and not done.resting:
            events.reregistration_requested(done)  # woken while it was going to rest
    return done


def request_reregistration(assignment_id: int) -> None:
    assignment = IdentityAssignment.objects.live().filter(pk=assignment_id).first()
    if assignment is not None and assignment.registration_state != RegistrationState.DEREGISTERING:
        events.reregistration_requested(assignment)


# Blocks ------------------------------------------------------------------------------------

_DEFINITION_FIELDS = ("kind", "pattern", "domain", "first", "last", "identities", "operator_id")


def check_block(block: IdentityBlock) -> int:
    """Validate a block's definition against its operator and every other live block; its size."""
    definition = block.definition()
    domain = block.operator.home_domain
    if block.kind == "subdomain":
        check_in_domain(f"sip:x@{block.domain}", domain)
    for sample in {definition.impu(0), definition.impu(definition.size - 1)} | set(definition.listed):
        check_in_domain(sample, domain)
    for other in IdentityBlock.objects.unexpired().exclude(pk=block.pk).select_related("operator"):
        if definition.overlaps(other.definition()):
            raise InvalidDefinition(f"it overlaps block {other.name!r} ({other.operator})")
    return definition.size


def save_block(block: IdentityBlock) -> IdentityBlock:
    """Create or change a block; its definition is frozen once an identity has been handed out."""
    with transaction.atomic():
        # Overlap checks of two concurrent saves must not both pass.
        advisory_lock(_BLOCK_DEFINITIONS_LOCK)
        if block.pk:
            stored = IdentityBlock.objects.select_for_update().get(pk=block.pk)
            changed = [f for f in _DEFINITION_FIELDS if getattr(stored, f) != getattr(block, f)]
            if changed and stored.next_index > 0:
                raise InvalidDefinition("identities have been handed out; the definition can no longer change")
            block.next_index = stored.next_index
        block.size = check_block(block)
        block.save()
    return block


def set_block_credentials(block_id: int, *, username: str, password: str) -> None:
    block = IdentityBlock.objects.select_related("operator").get(pk=block_id)
    secret = digest_secret(username, block.operator.realm, password)
    IdentityBlock.objects.filter(pk=block_id).update(
        auth_username=username, ha1_md5=secret.ha1_md5, ha1_sha256=secret.ha1_sha256, credentials_realm=secret.realm
    )


def set_block_password(block_id: int, password: str) -> None:
    """The block's password, kept as its scheme needs: hashed under the block's one user name, or
    sealed for each identity's own."""
    block = IdentityBlock.objects.select_related("operator").get(pk=block_id)
    if block.auth_scheme == AuthScheme.DIGEST_BLOCK:
        set_block_credentials(block_id, username=block.auth_username, password=password)
    elif block.auth_scheme == AuthScheme.DIGEST_SHARED:
        sealed = credentials.seal(password)
        IdentityBlock.objects.filter(pk=block_id).update(sealed_password=sealed, credentials_realm=block.operator.realm)
    else:
        raise ValueError(f"a block using {block.get_auth_scheme_display()!r} has no block password")


def set_identity_credentials(block_id: int, *, impu: str, username: str, password: str) -> IdentityCredential:
    import_identity_credentials(block_id, [credentials.CredentialRow(1, impu, username, password)])
    return IdentityCredential.objects.get(block_id=block_id, impu=impu)


def import_identity_credentials(block_id: int, rows: list[credentials.CredentialRow]) -> int:
    """Each identity's own Digest credentials, all or none: raises CredentialsRejected naming every
    line that is not an identity of the block, lacks a user name or password, or repeats one."""
    block = IdentityBlock.objects.select_related("operator").get(pk=block_id)
    errors = credential_errors(block, rows)
    if errors:
        raise credentials.CredentialsRejected(errors)
    made = [_credential(block, row) for row in rows]
    with transaction.atomic():
        IdentityCredential.objects.bulk_create(
            made, batch_size=1000, update_conflicts=True, unique_fields=["block", "impu"],
            update_fields=["username", "ha1_md5", "ha1_sha256", "realm"],
        )  # fmt: skip
    return len(made)


def credential_errors(block: IdentityBlock, rows: list[credentials.CredentialRow]) -> list[str]:
    definition, seen, errors = block.definition(), set(), []
    for row in rows:
        fields = (row.impu, row.username, row.password)
        if any(len(field) > 255 or "\x00" in field for field in fields):
            errors.append(f"line {row.line}: a field is longer than 255 characters or holds a NUL")
        elif not row.username or not row.password:
            errors.append(f"line {row.line}: a user name and a password are needed")
        elif definition.index_of(row.impu) is None:
            errors.append(f"line {row.line}: {row.impu} is not an identity of block {block.name!r}")
        elif row.impu in seen:
            errors.append(f"line {row.line}: {row.impu} appears twice")
        seen.add(row.impu)
    return errors if rows else ["no credentials given"]


def _credential(block: IdentityBlock, row: credentials.CredentialRow) -> IdentityCredential:
    secret = digest_secret(row.username, block.operator.realm, row.password)
    return IdentityCredential(
        block=block, impu=row.impu, username=row.username, ha1_md5=secret.ha1_md5, ha1_sha256=secret.ha1_sha256,
        realm=secret.realm,
    )  # fmt: skip


def _release_all(block_id: int, reason: str) -> None:
    for pk in IdentityAssignment.objects.live().filter(block_id=block_id).values_list("pk", flat=True):
        release_identity(pk, reason=reason, serve_line=False)
    serve_waiting_line()


def suspend_block(block_id: int, *, reason: str = "block suspended") -> None:
    """Nothing more is assigned from it; its live identities are de-registered, then released."""
    updated = IdentityBlock.objects.filter(pk=block_id, status=BlockStatus.ACTIVE).update(status=BlockStatus.SUSPENDED)
    if updated:
        _release_all(block_id, reason)


def resume_block(block_id: int) -> None:
    IdentityBlock.objects.filter(pk=block_id, status=BlockStatus.SUSPENDED).update(status=BlockStatus.ACTIVE)
    transaction.on_commit(serve_waiting_line)


def expire_block(block_id: int, *, reason: str = "block expired") -> None:
    updated = IdentityBlock.objects.filter(pk=block_id).exclude(status=BlockStatus.EXPIRED)
    if updated.update(status=BlockStatus.EXPIRED):
        FreeIdentity.objects.filter(block_id=block_id).delete()
        _release_all(block_id, reason)


def expire_ended_blocks() -> int:
    ended = list(IdentityBlock.objects.ended().values_list("pk", flat=True))
    for pk in ended:
        expire_block(pk, reason="block reached its end date")
    return len(ended)


# Browser sessions ------------------------------------------------------------------------


def session_opened(holder: Holder, channel_name: str) -> None:
    HolderSession.objects.get_or_create(channel_name=channel_name, defaults=holder.fields)
    assignment = _live(holder)
    if assignment is not None:
        _welcome_back(assignment)


def session_closed(holder: Holder, channel_name: str) -> None:
    """The last session of a guest closing starts the grace period of its identity."""
    HolderSession.objects.filter(channel_name=channel_name).delete()
    if not has_open_session(holder):
        holder_left(holder)


def has_open_session(holder: Holder) -> bool:
    return HolderSession.objects.present().of(holder).exists()


def present_channels(channel_names: list[str]) -> set[str]:
    """Which of these sockets a process still vouches for: the others died with their process."""
    present = HolderSession.objects.present().filter(channel_name__in=channel_names)
    return set(present.values_list("channel_name", flat=True))


def sessions_seen(sessions: Mapping[str, Holder], still_open: Callable[[str], bool]) -> None:
    """One process's heartbeat: its open sessions, in one UPDATE. A row the sweep took while the
    process could not reach the database comes back, for a socket `still_open` (not closed
    meanwhile, whose row its own close deletes)."""
    names = list(sessions)
    if HolderSession.objects.filter(channel_name__in=names).update(seen_at=Now()) == len(names):
        return
    found = set(HolderSession.objects.filter(channel_name__in=names).values_list("channel_name", flat=True))
    for name in (name for name in names if name not in found and still_open(name)):
        session_opened(sessions[name], name)


def expire_stale_sessions() -> int:
    """Sessions whose process stopped vouching for them (killed, crashed) close as a socket does:
    a guest without another session starts the grace period of its identity now."""
    stale = list(HolderSession.objects.stale().values_list("pk", "user_id", "guest_key"))
    # Again stale(): a row its process touched after the read stays.
    HolderSession.objects.stale().filter(pk__in=[pk for pk, _, _ in stale]).delete()
    for holder in {Holder(user_id=user_id, guest_key=key) for _, user_id, key in stale}:
        if not has_open_session(holder):
            holder_left(holder)
    return len(stale)
