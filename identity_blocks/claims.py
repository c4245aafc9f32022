"""Claiming an identity of a block for a holder: an index (the member's previous one, the oldest
released one, or the block's next never used), counted against the agreement, and the assignment
row, all or nothing, in one transaction."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from identity_blocks.holders import Holder
from identity_blocks.models import BlockStatus, FreeIdentity, IdentityAssignment, IdentityBlock, ServiceAgreement


class _Rollback(Exception):
    """Undo a claim whose last step found the block or the agreement unable to take it."""


def take_identity(block: IdentityBlock, holder: Holder) -> IdentityAssignment | None:
    """The new assignment, or None if the block or its agreement cannot take one. Raises
    IntegrityError if a concurrent request of the same holder got an identity first."""
    try:
        with transaction.atomic():
            index = _claim_index(block, holder)
            if index is None or not _counted(block.agreement_id):
                raise _Rollback
            assignment = IdentityAssignment(block=block, sticky=holder.is_member, **holder.fields)
            assignment.index, assignment.impu = index, block.impu(index)
            assignment.save(force_insert=True)
            return assignment
    except _Rollback:
        return None


def _claim_index(block: IdentityBlock, holder: Holder) -> int | None:
    """A released index if there is one (the member's own first), else the block's next."""
    locked = IdentityBlock.objects.select_for_update().filter(pk=block.pk, status=BlockStatus.ACTIVE).first()
    if locked is None:
        return None
    released = _claim_released(block, holder)
    if released is not None:
        return released
    if locked.next_index >= locked.size:
        return None
    IdentityBlock.objects.filter(pk=block.pk).update(next_index=F("next_index") + 1)
    return int(locked.next_index)


def _claim_released(block: IdentityBlock, holder: Holder) -> int | None:
    free = FreeIdentity.objects.filter(block=block)
    if holder.is_member:
        previous = (
            IdentityAssignment.objects.filter(block=block, **holder.fields)
            .order_by(F("released_at").desc(nulls_last=True))
            .values_list("index", flat=True)
            .first()
        )
        if previous is not None and free.filter(index=previous).delete()[0]:
            return int(previous)
    oldest = free.order_by("id").select_for_update(skip_locked=True).first()
    if oldest is None:
        return None
    oldest.delete()
    return int(oldest.index)


def _counted(agreement_id: int) -> bool:
    """Counted against the agreement's limit, if it has room."""
    room = ServiceAgreement.objects.filter(pk=agreement_id, live_assignments__lt=F("max_registrations"))
    return bool(room.update(live_assignments=F("live_assignments") + 1))
