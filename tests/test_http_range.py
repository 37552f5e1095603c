"""Range and If-Range parsing, from the examples and rules of RFC 9110 §14.1.2, §14.2 and §13.1.5."""
from __future__ import annotations

import pytest

from api.http_range import MAX_RANGES, ByteRange, RangeNotSatisfiable, if_range_matches, parse_byte_ranges, ranges_for

SIZE = 10000
ETAG = '"abc123"'
DATE = "Sun, 22 Nov 2026 01:00:00 GMT"


@pytest.mark.parametrize("header, expected", [
    ("bytes=0-499", [(0, 499)]),                    # the first 500 bytes
    ("bytes=500-999", [(500, 999)]),                # the second 500 bytes
    ("bytes=-500", [(9500, 9999)]),                 # the final 500 bytes
    ("bytes=9500-", [(9500, 9999)]),                # the final 500 bytes, open-ended
    ("bytes=0-0,-1", [(0, 0), (9999, 9999)]),       # the first and last bytes only
    ("bytes= 500-600 , 601-999", [(500, 999)]),     # adjacent ranges coalesced
    ("bytes=500-700,601-999", [(500, 999)]),        # overlapping ranges coalesced
    ("bytes=0-99999", [(0, 9999)]),                 # last-pos past the end: clamped
    ("bytes=-20000", [(0, 9999)]),                  # suffix longer than the file: whole file
    ("BYTES=0-1", [(0, 1)]),                        # the unit is case-insensitive
    ("bytes=9000-9100,0-10", [(0, 10), (9000, 9100)]),
    ("bytes=0-1,,5-6", [(0, 1), (5, 6)]),           # empty list elements are allowed
    ("bytes=20000-,0-5", [(0, 5)]),                 # one unsatisfiable range among satisfiable ones
])
def test_valid_ranges(header, expected):
    assert [(r.start, r.end) for r in parse_byte_ranges(header, SIZE)] == expected


@pytest.mark.parametrize("header", ["bytes=10000-", "bytes=-0", "bytes=abc", "bytes=5-1", "bytes=-",
                                    "bytes=", "bytes=1-2-3", "bytes=0x10-20", "0-100", "bytes=--5"])
def test_invalid_or_unsatisfiable_ranges_raise_416(header):
    with pytest.raises(RangeNotSatisfiable) as info:
        parse_byte_ranges(header, SIZE)
    assert info.value.size == SIZE
    assert str(info.value)


def test_unknown_unit_is_ignored():
    assert parse_byte_ranges("items=0-5", SIZE) is None


def test_too_many_ranges_refused():
    header = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(MAX_RANGES + 1))
    with pytest.raises(RangeNotSatisfiable):
        parse_byte_ranges(header, SIZE)


def test_empty_representation_has_no_satisfiable_range():
    with pytest.raises(RangeNotSatisfiable):
        parse_byte_ranges("bytes=0-", 0)
    with pytest.raises(RangeNotSatisfiable):
        parse_byte_ranges("bytes=-5", 0)


def test_content_range_and_length():
    r = ByteRange(500, 999)
    assert r.length == 500
    assert r.content_range(SIZE) == "bytes 500-999/10000"


def test_if_range_strong_etag():
    assert if_range_matches('"abc123"', ETAG, DATE)
    assert not if_range_matches('"other"', ETAG, DATE)
    assert not if_range_matches('W/"abc123"', ETAG, DATE)     # weak tags never match (strong comparison)
    assert not if_range_matches('"abc123"', 'W/"abc123"', DATE)


def test_if_range_date_must_equal_last_modified():
    assert if_range_matches(DATE, ETAG, DATE)
    assert not if_range_matches("Sun, 22 Nov 2026 00:59:59 GMT", ETAG, DATE)
    assert not if_range_matches("not a date", ETAG, DATE)


def test_ranges_for_precedence():
    assert ranges_for(None, None, SIZE, ETAG, DATE) is None                  # no Range: whole
    assert ranges_for("bytes=0-1", '"stale"', SIZE, ETAG, DATE) is None      # If-Range fails: whole
    assert ranges_for("bytes=0-1", ETAG, SIZE, ETAG, DATE) == (ByteRange(0, 1),)
    assert ranges_for("bytes=0-1", None, SIZE, ETAG, DATE) == (ByteRange(0, 1),)
    assert ranges_for("bytes=99999-", '"stale"', SIZE, ETAG, DATE) is None   # If-Range fails before 416
    with pytest.raises(RangeNotSatisfiable):
        ranges_for("bytes=99999-", ETAG, SIZE, ETAG, DATE)
