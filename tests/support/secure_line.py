"""Jane and her advisor on the secure chat line, as people drive it in Chromium, and files to share
over it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat

SECURE_OPEN = "Secure chat: end to end"


def in_conversation(base: str, browser: Any, line: str = "", desk_context: Any = None, jane_context: Any = None) -> Any:
    """Jane's help page, the advisor's desk and the desk's pane of their conversation, once accepted."""
    desk = advisor_desk(browser, base, context=desk_context)
    jane = jane_asks_for_chat(browser, base, line=line, context=jane_context)
    desk.locator("#ringing button", has_text="Accept").click()
    jane.locator("#status", has_text="You are talking with").wait_for()
    return jane, desk, desk.locator(".conversation").last


def advisor_switches(jane: Any, pane: Any) -> None:
    """The advisor asks for the secure line, Jane accepts, both see it open."""
    pane.get_by_role("button", name="Switch to secure chat").click()
    jane.get_by_role("button", name="Accept secure chat").click()
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
