"""Colleagues: the portal's members whom a member may call directly, browser to browser.

A colleague is another active user of the same third party's service agreement who holds an
identity (live, resting or not). Guests hold identities only for a visit and are reached in their
conversation; a user who only administers the portal holds none, and so is no one's colleague.
An agreement may have tens of thousands of members: they are searched by name, a page at a time,
never listed whole.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce

from django.db.models import CharField, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, Lower, NullIf, Trim, Upper

from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment


@dataclass(frozen=True)
class Colleague:
    name: str  # what the directory shows: the full name, else the user name
    impu: str


# User.get_full_name(), else the user name, in SQL: what the search orders by and shows.
_FULL_NAME = Trim(Concat("user__first_name", Value(" "), "user__last_name", output_field=CharField()))
_NAMES = ("user__first_name", "user__last_name", "user__username")  # what a search matches
_NAME = Coalesce(NullIf(_FULL_NAME, Value("")), "user__username", output_field=CharField())


def colleagues_of(holder: Holder) -> QuerySet[IdentityAssignment]:
    """The live identities of the holder's colleagues: the one rule of who is one. None for a
    guest, nor for a member without an identity (her agreement is her identity's)."""
    if holder.user_id is None:
        return IdentityAssignment.objects.none()
    agreement = IdentityAssignment.objects.live().of(holder).values("block__agreement_id")[:1]
    members = IdentityAssignment.objects.live().filter(user__isnull=False, user__is_active=True)
    return members.filter(block__agreement_id=Subquery(agreement)).exclude(user_id=holder.user_id)


def search(holder: Holder, text: str, limit: int) -> list[Colleague]:
    """Up to `limit` of the holder's colleagues, by name, whose first, last or user name contains
    each word of `text` (any case); the first of them all when `text` is blank."""
    found = colleagues_of(holder)
    for word in text.split():
        found = found.filter(reduce(operator.or_, (Q(**{f"{field}__icontains": word}) for field in _NAMES)))
    named = found.annotate(name=_NAME).order_by(Lower("name"), "pk")
    return [Colleague(name, impu) for name, impu in named.values_list("name", "impu")[:limit]]


def colleague_at(holder: Holder, impu: str) -> tuple[IdentityAssignment, IdentityAssignment] | None:
    """The holder's identity and the colleague's whose IMPU this is (the core may change the case
    of a host: compared upper-cased), or None when it is no colleague's."""
    wanted = colleagues_of(holder).annotate(upper_impu=Upper("impu")).filter(upper_impu=impu.strip().upper())
    theirs = wanted.select_related("block").first()
    mine = IdentityAssignment.objects.live().of(holder).select_related("block").first() if theirs else None
    return None if theirs is None or mine is None else (mine, theirs)
