"""Jane and her advisor on the secure chat line, as people drive it in Chromium, and files to share
over it."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

SECURE_OPEN = "Secure chat: end to end"


def advisor_switches(jane: Any, pane: Any) -> None:
    """The advisor asks for the secure line, Jane accepts, both see it open."""
    advisor_asks_jane_accepts(jane, pane)
    for page in (jane, pane):
        page.get_by_role("status").filter(has_text=SECURE_OPEN).wait_for(timeout=30_000)


def file_with(path: Path, size: int, phrase: str = "") -> str:
    """Random bytes with `phrase` in the middle, written to `path`; their SHA-256."""
    middle = size // 2
    data = os.urandom(middle) + phrase.encode() + os.urandom(size - middle - len(phrase.encode()))
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def share(page: Any, path: Path) -> None:
    page.get_by_label("Share a file").set_input_files(str(path))


def transfer(where: Any, name: str, arriving: bool) -> Any:
    """The timeline's item of the file `name`: sent (arriving False) or arriving (True)."""
    return where.locator(".message.file.in" if arriving else ".message.file.out", has_text=name)


def secure_send(where: Any, text: str) -> None:
    where.get_by_label("Write securely").fill(text)
    where.get_by_role("button", name="Send securely").click()


def both_ways(jane: Any, pane: Any, to_advisor: str, to_jane: str) -> None:
    secure_send(jane, to_advisor)
    pane.locator(".message.secure.in .body", has_text=to_advisor).wait_for()
    secure_send(pane, to_jane)
    jane.locator(".message.secure.in .body", has_text=to_jane).wait_for()


def codes(jane: Any, pane: Any) -> list[str]:
    """The security code on each screen, "123 456"."""
    digits = [
        where.locator(".secure-code-digits").filter(has_text=re.compile(r"^\d{3} \d{3}$")) for where in (jane, pane)
    ]
    for shown in digits:
        shown.wait_for(timeout=10_000)  # computed once the line is up
    return [shown.text_content() or "" for shown in digits]


def fingerprints(page: Any) -> list[str]:
    """The DTLS fingerprints of the page's secure line: its own, and the one it received."""
    sdps = page.evaluate("() => [portalSecureLine.pc.localDescription.sdp, portalSecureLine.pc.remoteDescription.sdp]")
    found = [re.search(r"a=fingerprint:(\S+ \S+)", sdp) for sdp in sdps]
    assert all(found), sdps
    return [match[1] for match in found if match]


def advisor_asks_jane_accepts(jane: Any, pane: Any) -> None:
    pane.get_by_role("button", name="Switch to secure chat").click()
    jane.get_by_role("button", name="Accept secure chat").click()
