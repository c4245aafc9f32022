"""Who holds an identity: a logged-in user (sticky) or a guest session (ephemeral)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

_GUEST_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class Holder:
    user_id: int | None = None
    guest_key: str = ""

    def __post_init__(self) -> None:
        if (self.user_id is None) == (not self.guest_key):
            raise ValueError("a holder is either a user or a guest")
        if self.guest_key and not _GUEST_KEY.fullmatch(self.guest_key):
            raise ValueError("a guest key is 16 to 64 URL-safe characters")

    @classmethod
    def member(cls, user: Any) -> Holder:
        return cls(user_id=user.pk)

    @classmethod
    def of(cls, row: Any) -> Holder:
        """The holder recorded on a row with user_id and guest_key (an assignment, a wait, a request)."""
        return cls(user_id=row.user_id, guest_key=row.guest_key)

    @classmethod
    def guest(cls, key: str) -> Holder:
        return cls(guest_key=key)

    @staticmethod
    def new_guest_key() -> str:
        return secrets.token_urlsafe(24)

    @property
    def is_member(self) -> bool:
        return self.user_id is not None

    @property
    def fields(self) -> dict[str, Any]:
        return {"user_id": self.user_id} if self.is_member else {"guest_key": self.guest_key}

    @property
    def group(self) -> str:
        """The channel-layer group of this holder's open browser sessions."""
        return f"holder.user.{self.user_id}" if self.is_member else f"holder.guest.{self.guest_key}"

    @property
    def pager_group(self) -> str:
        """The sessions that show the holder's pager messages (the softphone), not the help-desk
        chat sockets, which hear a chat's MESSAGEs as chat messages and have no use for them."""
        return f"{self.group}.pager"

    def __str__(self) -> str:
        return f"user {self.user_id}" if self.is_member else f"guest {self.guest_key[:6]}…"
