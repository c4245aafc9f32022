"""A member's identity follows her log-ins: assigned (or woken) when she logs in, at rest (kept
hers, de-registered) when she logs out."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from identity_blocks import actions
from identity_blocks.holders import Holder


@receiver(user_logged_in, dispatch_uid="identity_blocks.logged_in")
def logged_in(sender: Any, user: Any, **kwargs: Any) -> None:
    actions.member_logged_in(Holder.member(user), administers_only=user.is_staff)


@receiver(user_logged_out, dispatch_uid="identity_blocks.logged_out")
def logged_out(sender: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:  # logging out without a session logs nobody out
        actions.member_logged_out(Holder.member(user))
