"""Jane and her advisor on the secure chat line, as people drive it (static/js/secure_chat.js)."""

from __future__ import annotations

import re
from typing import Any

from tests.support.helpdesk_browser import advisor_desk, jane_asks_for_chat

SECURE_OPEN = "Secure chat: end to end"


def in_conversation(base: str, browser: Any, line: str = "", desk_context: Any = None) -> tuple[Any, Any, Any]:
    """Jane's help page, the advisor's desk, and the desk's pane of her conversation."""
    desk = advisor_desk(browser, base, context=desk_context)
    jane = jane_asks_for_chat(browser, base, line=line)
    desk.locator("#ringing button", has_text="Accept").click()
    jane.locator("#status", has_text="You are talking with").wait_for()
    return jane, desk, desk.locator(".conversation").last


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
    shown = [where.locator(".secure-code-digits").text_content(timeout=10_000) or "" for where in (jane, pane)]
    assert all(re.fullmatch(r"\d{3} \d{3}", code) for code in shown), shown
    return shown


def fingerprints(page: Any) -> list[str]:
    """The DTLS fingerprints of the page's secure line: its own, and the one it received."""
    sdps = page.evaluate("() => [portalSecureLine.pc.localDescription.sdp, portalSecureLine.pc.remoteDescription.sdp]")
    found = [re.search(r"a=fingerprint:(\S+ \S+)", sdp) for sdp in sdps]
    assert all(found), sdps
    return [match[1] for match in found if match]
