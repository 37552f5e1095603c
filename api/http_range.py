"""HTTP Range and If-Range (RFC 9110 §14 and §13.1.5), parsed by pure functions raising typed errors.

`ranges_for(range_header, if_range, size, etag, last_modified)` says what to send:
  - None: the whole representation (200): no Range, a range unit other than bytes (ignored, §14.2), or an
    If-Range validator that does not match the current one (§13.1.5);
  - a tuple of ByteRange (206), overlapping or adjacent ranges coalesced, in ascending order.
A syntactically invalid or unsatisfiable bytes range raises RangeNotSatisfiable (416); the mapping to HTTP
lives in api/routes/errors.py, with every other error's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import Optional

from core.errors import XunluError

MAX_RANGES = 32  # more ranges than this in one request is treated as abuse (RFC 9110 §14.2 allows refusing)
_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_ETAG = re.compile(r'^\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*$')


@dataclass(frozen=True)
class ByteRange:
    start: int      # first byte, inclusive
    end: int        # last byte, inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class RangeError(XunluError, ValueError):
    """A Range header that cannot be served."""

    code = "bad_range"


class RangeNotSatisfiable(RangeError):
    """416: invalid bytes ranges, or none of them overlaps the representation."""

    code = "range_not_satisfiable"
    http_status = 416

    def __init__(self, message: str, size: int):
        super().__init__(message)
        self.size = size


def parse_byte_ranges(header: str, size: int) -> Optional[tuple[ByteRange, ...]]:
    """The satisfiable ranges of a `Range: bytes=...` value for a representation of `size` bytes.

    None when the unit is not bytes (the header is then ignored). Raises RangeNotSatisfiable for bad syntax
    or when no range is satisfiable."""
    unit, sep, specs = header.partition("=")
    if not sep:
        raise RangeNotSatisfiable(f"malformed Range header {header!r}: expected bytes=START-END", size)
    if unit.strip().lower() != "bytes":
        return None
    parts = [p for p in specs.split(",")]
    if len(parts) > MAX_RANGES:
        raise RangeNotSatisfiable(f"too many ranges in one request ({len(parts)}, at most {MAX_RANGES})", size)
    found: list[ByteRange] = []
    for part in parts:
        if not part.strip():
            continue  # empty list elements are allowed (RFC 9110 §5.6.1)
        m = _SPEC.match(part)
        if not m or (not m.group(1) and not m.group(2)):
            raise RangeNotSatisfiable(f"malformed range {part.strip()!r} in {header!r}", size)
        first, last = m.group(1), m.group(2)
        if first:
            start = int(first)
            end = int(last) if last else size - 1
            if last and end < start:
                raise RangeNotSatisfiable(f"range {part.strip()!r}: last byte before first byte", size)
            if start >= size:
                continue  # unsatisfiable on its own; others may still be satisfiable
            found.append(ByteRange(start, min(end, size - 1)))
        else:  # suffix: the last N bytes
            suffix = int(last)
            if suffix == 0 or size == 0:
                continue
            found.append(ByteRange(max(0, size - suffix), size - 1))
    if not found:
        raise RangeNotSatisfiable(f"range {specs.strip()!r} is outside the {size} bytes of the file", size)
    return coalesce(found)


def coalesce(ranges: list[ByteRange]) -> tuple[ByteRange, ...]:
    """Sort and merge overlapping or adjacent ranges."""
    merged: list[ByteRange] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if merged and r.start <= merged[-1].end + 1:
            merged[-1] = ByteRange(merged[-1].start, max(merged[-1].end, r.end))
        else:
            merged.append(r)
    return tuple(merged)


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


def if_range_matches(if_range: str, etag: str, last_modified: str) -> bool:
    """§13.1.5: an entity tag matches only by strong comparison (a weak tag never does); an HTTP-date
    matches only when it is exactly the Last-Modified date we send."""
    value = if_range.strip()
    m = _ETAG.match(value)
    if m:
        ours = _ETAG.match(etag)
        return not m.group(1) and ours is not None and not ours.group(1) and m.group(2) == ours.group(2)
    try:
        theirs = parsedate_to_datetime(value)
        mine = parsedate_to_datetime(last_modified)
    except (TypeError, ValueError, IndexError):
        return False
    return theirs is not None and mine is not None and theirs == mine


def ranges_for(range_header: Optional[str], if_range: Optional[str], size: int, etag: str,
               last_modified: str) -> Optional[tuple[ByteRange, ...]]:
    """What to send: None for the whole representation, else the ranges (see the module doc)."""
    if range_header is None:
        return None
    if if_range is not None and not if_range_matches(if_range, etag, last_modified):
        return None
    return parse_byte_ranges(range_header, size)
