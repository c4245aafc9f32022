"""Broadcasts of identity changes, sent only after the change is committed.

The holder's browser sessions listen on the holder's group; every IMS-side process listens on
IMS_GROUP and acts on the assignments of its own shard.
"""

from __future__ import annotations

from typing import Any

from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from portal import broadcast

IMS_GROUP = "ims.identities"


def _holder(assignment: IdentityAssignment) -> Holder:
    return Holder.of(assignment)


def describe(assignment: IdentityAssignment) -> dict[str, Any]:
    return {
        "assignment": assignment.pk,
        "impu": assignment.impu,
        "state": assignment.registration_state,
        "error": assignment.registration_error,
        "live": assignment.is_live,
    }


def identity_changed(assignment: IdentityAssignment) -> None:
    broadcast.after_commit(_holder(assignment).group, {"type": "identity.changed", **describe(assignment)})


def identity_assigned(assignment: IdentityAssignment) -> None:
    changed = {"type": "identity.changed", **describe(assignment)}
    register = {"type": "ims.register", "assignment": assignment.pk}
    broadcast.after_commit_many([(_holder(assignment).group, changed), (IMS_GROUP, register)])


def deregistration_requested(assignment: IdentityAssignment) -> None:
    identity_changed(assignment)
    broadcast.after_commit(IMS_GROUP, {"type": "ims.deregister", "assignment": assignment.pk})


def reregistration_requested(assignment: IdentityAssignment) -> None:
    broadcast.after_commit(IMS_GROUP, {"type": "ims.register", "assignment": assignment.pk})


def waiting_line_moved(holder: Holder, position: int) -> None:
    broadcast.after_commit(holder.group, {"type": "identity.waiting", "position": position})
