"""What identities a block holds: index -> IMPU in O(1), membership, validation and overlap.

A numbered block is a family: IMPU = prefix + digits(n) + suffix for n in [first, last], digits
zero-padded to a width or unpadded. Overlap between two families is decided exactly, with interval
arithmetic on the digit positions the two templates share, so blocks of any size are compared in
constant time and never enumerated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sip.uri import InvalidUri, SipUri, is_in_domain, parse_impu

_PLACEHOLDER = re.compile(r"\{n(?::0?(\d+)d)?\}")
MAX_BLOCK_SIZE = 10**12


class InvalidDefinition(ValueError):
    """A block definition that cannot be used, with a message for the admin who entered it."""


@dataclass(frozen=True)
class _Run:
    """Strings of one fixed length: prefix + n zero-filled to `digits` + suffix, n in [lo, hi]."""

    prefix: str
    suffix: str
    digits: int
    lo: int
    hi: int

    @property
    def length(self) -> int:
        return len(self.prefix) + self.digits + len(self.suffix)

    def char(self, position: int) -> str | None:
        """The template's fixed character at `position`, or None inside the digit region."""
        if position < len(self.prefix):
            return self.prefix[position]
        if position < len(self.prefix) + self.digits:
            return None
        return self.suffix[position - len(self.prefix) - self.digits]


@dataclass(frozen=True)
class Family:
    prefix: str
    suffix: str
    first: int
    last: int
    width: int  # 0: unpadded

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def impu(self, index: int) -> str:
        n = self.first + index
        return f"{self.prefix}{str(n).zfill(self.width)}{self.suffix}"

    def runs(self) -> Iterator[_Run]:
        """Split into runs of equal string length (an unpadded range spans several lengths)."""
        if self.width:
            yield _Run(self.prefix.lower(), self.suffix.lower(), self.width, self.first, self.last)
            return
        lo = self.first
        while lo <= self.last:
            digits = len(str(lo))
            hi = min(self.last, 10**digits - 1)
            yield _Run(self.prefix.lower(), self.suffix.lower(), digits, lo, hi)
            lo = hi + 1

    def index_of(self, impu: str) -> int | None:
        for run in self.runs():
            if len(impu) != run.length or not impu.lower().startswith(run.prefix):
                continue
            if not impu.lower().endswith(run.suffix):
                continue
            number = impu[len(run.prefix) : len(run.prefix) + run.digits]
            if number.isdigit() and number.isascii() and run.lo <= int(number) <= run.hi:
                return int(number) - self.first
        return None


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _digits_at(run: _Run, start: int, end: int) -> int:
    """The number spelt by `run`'s fixed characters over [start, end), 0 when the span is empty.
    Callers only ask where the other template has its digit region, so these were checked digits."""
    text = "".join(run.char(p) or "" for p in range(start, end))
    return int(text) if text else 0


def _templates_agree(a: _Run, b: _Run) -> bool:
    """Where both are fixed they match; where one has digits the other's fixed character is a digit."""
    for p in range(a.length):
        ca, cb = a.char(p), b.char(p)
        if ca is not None and cb is not None and ca != cb:
            return False
        fixed = ca if cb is None else cb if ca is None else None
        if fixed is not None and not (fixed.isascii() and fixed.isdigit()):
            return False
    return True


def _runs_meet(a: _Run, b: _Run) -> bool:
    """Whether two runs share a string, decided exactly without enumerating either."""
    if a.length != b.length or not _templates_agree(a, b):
        return False
    if len(a.prefix) > len(b.prefix):
        a, b = b, a
    a0, a1 = len(a.prefix), len(a.prefix) + a.digits
    b0, b1 = len(b.prefix), len(b.prefix) + b.digits
    if a1 <= b0:  # separate regions: each number is spelt by the other's fixed digits
        return a.lo <= _digits_at(b, a0, a1) <= a.hi and b.lo <= _digits_at(a, b0, b1) <= b.hi
    if b1 <= a1:  # a's region holds b's: n = left·10^(a1-b0) + m·10^(a1-b1) + right
        step: int = 10 ** (a1 - b1)
        base: int = _digits_at(b, a0, b0) * 10 ** (a1 - b0) + _digits_at(b, b1, a1)
        return max(b.lo, _ceil_div(a.lo - base, step)) <= min(b.hi, (a.hi - base) // step)
    # Overlapping regions: n = X·10^shared + Y and m = Y·10^tail + Z, X and Z fixed digits.
    x, z = _digits_at(b, a0, b0), _digits_at(a, a1, b1)
    shared, tail = a1 - b0, b1 - a1
    y_lo: int = max(0, a.lo - x * 10**shared, _ceil_div(b.lo - z, 10**tail))
    y_hi: int = min(10**shared - 1, a.hi - x * 10**shared, (b.hi - z) // 10**tail)
    return y_lo <= y_hi


def families_overlap(a: Family, b: Family) -> bool:
    return any(_runs_meet(ra, rb) for ra in a.runs() for rb in b.runs())


@functools.lru_cache(maxsize=1024)  # a block's IMPU is computed from its pattern at every assignment
def parse_pattern(pattern: str, first: int, last: int) -> Family:
    """`sip:help-{n:04d}@help.example.net` with first..last; {n} may stand only in the user part."""
    matches = list(_PLACEHOLDER.finditer(pattern))
    if len(matches) != 1 or pattern.count("{") != 1 or pattern.count("}") != 1:
        raise InvalidDefinition("the pattern needs exactly one {n} or {n:0Wd} placeholder, e.g. sip:help-{n:04d}@x.net")
    if first < 0 or last < first:
        raise InvalidDefinition(f"the range {first}..{last} is empty or inverted")
    if last - first + 1 > MAX_BLOCK_SIZE:
        raise InvalidDefinition(f"a block holds at most {MAX_BLOCK_SIZE:,} identities")
    match = matches[0]
    width = int(match.group(1) or 0)
    if width and len(str(last)) > width:
        raise InvalidDefinition(f"{last} has more digits than the pattern's width {width}")
    prefix, suffix = pattern[: match.start()], pattern[match.end() :]
    if "@" in prefix or (prefix.lower().startswith("sip") and "@" not in suffix):
        raise InvalidDefinition("the number must stand in the user part, before the @")
    family = Family(prefix, suffix, first, last, width)
    # Digits are valid wherever the user part allows any character, so the ends of each run of
    # equal length stand for every identity between them.
    for run in family.runs():
        for n in {run.lo, run.hi}:
            _check_impu(family.impu(n - first), pattern)
    return family


def _check_impu(impu: str, source: str) -> SipUri | None:
    try:
        uri = parse_impu(impu)
    except InvalidUri as error:
        raise InvalidDefinition(f"{source!r} gives {impu!r}, which is not a valid identity: {error}") from None
    return uri if isinstance(uri, SipUri) else None


def host_of(impu: str) -> str | None:
    uri = parse_impu(impu)
    return uri.host if isinstance(uri, SipUri) else None


def check_in_domain(impu: str, domain: str) -> None:
    host = host_of(impu)
    if host is not None and not is_in_domain(host, domain):
        raise InvalidDefinition(f"{impu} is outside the operator's domain {domain}")


@dataclass(frozen=True)
class Definition:
    """Every identity of one block: a numbered family, an explicit list, or a whole sub-domain."""

    family: Family | None = None
    listed: tuple[str, ...] = ()
    claimed_domain: str | None = None

    @property
    def size(self) -> int:
        return self.family.size if self.family else len(self.listed)

    def impu(self, index: int) -> str:
        if not 0 <= index < self.size:
            raise IndexError(f"identity {index} is outside a block of {self.size}")
        return self.family.impu(index) if self.family else self.listed[index]

    def index_of(self, impu: str) -> int | None:
        if self.family:
            return self.family.index_of(impu)
        folded = [item.lower() for item in self.listed]
        return folded.index(impu.lower()) if impu.lower() in folded else None

    def hosts(self) -> set[str]:
        samples = [self.family.impu(0)] if self.family else list(self.listed)
        return {host for host in map(host_of, samples) if host}

    def overlaps(self, other: Definition) -> bool:
        for claim, rest in ((self.claimed_domain, other), (other.claimed_domain, self)):
            if claim and (claim == rest.claimed_domain or claim in rest.hosts()):
                return True
        if self.family and other.family:
            return families_overlap(self.family, other.family)
        if self.family or other.family:
            ranged, listed = (self, other) if self.family else (other, self)
            return any(ranged.index_of(item) is not None for item in listed.listed)
        return bool({item.lower() for item in self.listed} & {item.lower() for item in other.listed})


def parse_list(text: str) -> tuple[str, ...]:
    items = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not items:
        raise InvalidDefinition("the list names no identity")
    for item in items:
        _check_impu(item, item)
    duplicates = len(items) - len({item.lower() for item in items})
    if duplicates:
        raise InvalidDefinition(f"the list names {duplicates} identities twice")
    return items


def subdomain_family(domain: str, size: int) -> Family:
    """A sub-domain block hands out sip:web-1@domain ... sip:web-<size>@domain."""
    if size < 1:
        raise InvalidDefinition("a sub-domain block needs a size of at least 1")
    return parse_pattern(f"sip:web-{{n}}@{domain}", 1, size)
