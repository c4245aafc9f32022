"""Each chat message shows when the server took it, as <time datetime=...>, in the viewer's own
locale and time zone: the same message reads 15:03 on a German advisor's desk in Berlin and
9:03 AM on Jane's page in New York."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.support.browser import chromium
from tests.support.helpdesk_browser import advisor_desk, chat_both_ways, jane_asks_for_chat


def _shown(time: object) -> tuple[datetime, str]:
    stamp = time.get_attribute("datetime")  # type: ignore[attr-defined]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")), time.inner_text()  # type: ignore[attr-defined]


def test_both_sides_read_the_times_in_their_own_locale(demo_server):
    with chromium() as browser:
        berlin = browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
        # The desk's pages in English (the shared helpers read English labels), its clock German.
        berlin.add_cookies([{"name": "django_language", "value": "en", "url": demo_server}])
        new_york = browser.new_context(locale="en-US", timezone_id="America/New_York")
        desk = advisor_desk(browser, demo_server, context=berlin)
        jane = jane_asks_for_chat(browser, demo_server, context=new_york)
        chat_both_ways(jane, desk, "times")
        pane = desk.locator(".conversation").last
        for her_side, desk_side in ((".message.out", ".message.in"), (".message.in", ".message.out")):
            at, on_her_page = _shown(jane.locator(f"{her_side} time"))
            same, on_the_desk = _shown(pane.locator(f"{desk_side} time"))
            assert same == at
            here = at.astimezone(ZoneInfo("Europe/Berlin"))
            assert on_the_desk == f"{here.hour}:{here:%M}"
            there = at.astimezone(ZoneInfo("America/New_York"))
            assert re.fullmatch(rf"{there:%-I}:{there:%M}\s[AP]M", on_her_page), on_her_page
            assert on_her_page.endswith("PM" if there.hour >= 12 else "AM")
