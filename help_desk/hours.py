"""A queue's business hours, as people write them: "Mon-Fri 09:00-17:00; Sat 10:00-13:00", in the
queue's time zone. Outside them the help page offers the message form instead of a line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SPAN = re.compile(r"(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+"
                   r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})")  # fmt: skip


@dataclass(frozen=True)
class Span:
    days: frozenset[int]  # 0 is Monday, as datetime.weekday()
    start: int  # minutes after midnight
    end: int  # after start; 24:00 is the day's end

    def holds(self, moment: datetime) -> bool:
        minute = moment.hour * 60 + moment.minute
        return moment.weekday() in self.days and self.start <= minute < self.end


def _minutes(text: str, part: str) -> int:
    hours, minutes = (int(n) for n in text.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ValidationError(f"{part!r}: {text} is not a time of day.")
    return hours * 60 + minutes


def _days(text: str, part: str) -> frozenset[int]:
    days: set[int] = set()
    for run in re.split(r"\s*,\s*", text):
        first, _, last = (name.strip() for name in run.partition("-"))
        if first not in DAYS or (last and last not in DAYS):
            raise ValidationError(f"{part!r}: days are written Mon, Tue, Wed, Thu, Fri, Sat, Sun.")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days.update((start + k) % 7 for k in range((end - start) % 7 + 1))  # Sat-Mon crosses the week's end
    return frozenset(days)


def parse(text: str) -> list[Span]:
    """Empty text: always open (no span). Raises ValidationError naming the part it cannot read."""
    spans = []
    for part in (p.strip() for p in re.split(r"[;\n]", text.lower()) if p.strip()):
        match = _SPAN.fullmatch(part)
        if match is None:
            raise ValidationError(f"{part!r}: write days and hours, e.g. Mon-Fri 09:00-17:00.")
        start, end = _minutes(match["start"], part), _minutes(match["end"], part)
        if end <= start:
            raise ValidationError(f"{part!r}: the hours must end after they start.")
        spans.append(Span(_days(match["days"], part), start, end))
    return spans


def validate_hours(text: str) -> None:
    parse(text)


def validate_time_zone(name: str) -> None:
    if name not in available_timezones():
        raise ValidationError(f"{name!r} is not a time zone (e.g. Europe/Berlin).")


def is_open(text: str, zone: str, now: datetime) -> bool:
    spans = parse(text)
    if not spans:
        return True
    try:
        local = now.astimezone(ZoneInfo(zone))
    except ZoneInfoNotFoundError:
        local = now
    return any(span.holds(local) for span in spans)
