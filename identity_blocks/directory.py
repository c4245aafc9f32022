"""Colleagues: the portal's members whom a member may call directly, browser to browser.

A colleague is another logged-in user of the same third party's service agreement who holds an
identity (live, resting or not). Guests hold identities only for a visit and are reached in their
conversation; a user who only administers the portal holds none, and so is no one's colleague.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models.functions import Upper

from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment


@dataclass(frozen=True)
class Colleague:
    name: str  # what the directory shows: the full name, else the user name
    impu: str
    assignment_id: int
    user_id: int


def _colleague(assignment: IdentityAssignment) -> Colleague:
    user = assignment.user
    assert user is not None
    name = user.get_full_name() or user.get_username()
    return Colleague(name, assignment.impu, assignment.pk, user.pk)


def _members_of(agreement_id: int) -> list[IdentityAssignment]:
    live = IdentityAssignment.objects.live().filter(user__isnull=False, user__is_active=True)
    return list(live.filter(block__agreement_id=agreement_id).select_related("user"))


def colleagues(holder: Holder) -> list[Colleague]:
    """The holder's colleagues by name; none for a guest or one without an identity."""
    if not holder.is_member:
        return []
    mine = IdentityAssignment.objects.live().of(holder).select_related("block").first()
    if mine is None:
        return []
    found = [_colleague(a) for a in _members_of(mine.block.agreement_id) if a.user_id != holder.user_id]
    return sorted(found, key=lambda colleague: colleague.name.lower())


def colleague_at(holder: Holder, impu: str) -> tuple[IdentityAssignment, IdentityAssignment] | None:
    """The holder's identity and the colleague's whose IMPU this is (the core may change the case
    of a host: compared upper-cased), or None when it is no colleague's."""
    if not holder.is_member:
        return None
    live = IdentityAssignment.objects.live().select_related("block")
    mine = live.of(holder).first()
    theirs = live.annotate(upper_impu=Upper("impu")).filter(upper_impu=impu.strip().upper()).first()
    if mine is None or theirs is None or theirs.user_id is None or theirs.user_id == holder.user_id:
        return None
    if theirs.block.agreement_id != mine.block.agreement_id:
        return None
    return mine, theirs
