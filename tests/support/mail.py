"""What a demo portal mailed, read back from Django's file-based e-mail backend."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path


def mails(folder: Path) -> list[email.message.EmailMessage]:
    """Each file of the backend holds messages separated by a line of dashes."""
    found = []
    for path in sorted(folder.glob("*.log")):
        for raw in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if raw.strip():
                found.append(email.message_from_bytes(raw.lstrip(), policy=email.policy.default))
    return found


def file_backend(folder: Path) -> dict[str, str]:
    """The demo's settings for it, writing into `folder`."""
    return {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(folder)}
