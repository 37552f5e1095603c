"""Whole posting lists, field lengths and columns of a Whoosh segment, read a block at a time into numpy.

Whoosh's own readers hand out one posting or one value per Python call; these read the same on-disk blocks
(W3 codec: pickled id/weight/value arrays per block of postings, one length byte per document and field,
fixed-width column entries) in bulk. Where the layout is not the expected one they fall back to Whoosh's
per-item calls (correct, slower), or raise `Unsupported` so that the caller leaves the query to Whoosh.
Results are cached per segment reader (a reader's segment never changes; a changed segment gets a new
reader).
"""
from __future__ import annotations

import weakref


class Unsupported(Exception):
    """This query is left to Whoosh's searcher."""


def numpy_module():
    import numpy as np

    return np


_LENGTHS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # segment reader -> {field: lengths}
_BYTE_TO_LENGTH = None


def _length_table():
    global _BYTE_TO_LENGTH
    if _BYTE_TO_LENGTH is None:
        np = numpy_module()
        try:
            from whoosh.codec.whoosh3 import byte_to_length
        except ImportError:  # pragma: no cover - older layouts
            from whoosh.util.numeric import byte_to_length
        table = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
        table[0] = 1.0  # Whoosh's scorer asks doc_field_length(docnum, field, default=1)
        _BYTE_TO_LENGTH = table
    return _BYTE_TO_LENGTH


def field_lengths(reader, fieldname: str):
    """Per-document lengths of `fieldname` in one segment, as Whoosh's scorer sees them (numpy float64)."""
    np = numpy_module()
    cache = _LENGTHS.setdefault(reader, {})
    if fieldname in cache:
        return cache[fieldname]
    count = reader.doc_count_all()
    raw = None
    try:
        from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

        column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        if column is not None and getattr(column, "_fixedlen", None) == 1:
            stored = min(column._count, count)
            raw = np.zeros(count, dtype=np.uint8)
            raw[:stored] = np.frombuffer(column._dbfile.get(column._basepos, stored), dtype=np.uint8)
    except (AttributeError, ImportError, TypeError, ValueError):
        raw = None
    if raw is not None:
        lengths = _length_table()[raw]
    else:  # a codec without the byte column: ask Whoosh document by document (correct, slower)
        lengths = np.fromiter((reader.doc_field_length(d, fieldname, 1) for d in range(count)),
                              dtype=np.float64, count=count)
    cache[fieldname] = lengths
    return lengths

_COLUMNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # segment reader -> {field: column}
_BIG_ENDIAN = {"B": ">u1", "H": ">u2", "I": ">u4", "L": ">u4", "Q": ">u8", "b": ">i1", "h": ">i2", "i": ">i4",
               "l": ">i4", "q": ">i8"}


def read_column(reader, fieldname: str):
    """One segment's column of `fieldname`, whole, as numpy: (refs, uniques) for a RefBytesColumn, the
    sortable integers (and the field's default, meaning no value) for a numeric one."""
    np = numpy_module()
    cache = _COLUMNS.setdefault(reader, {})
    if fieldname in cache:
        return cache[fieldname]
    if not reader.has_column(fieldname):
        raise Unsupported(f"no column for {fieldname!r} (an index of an older format?)")
    raw = reader.column_reader(fieldname, translate=False)
    count = reader.doc_count_all()
    try:
        if hasattr(raw, "_uniques"):  # RefBytesColumn.Reader
            dtype = _BIG_ENDIAN[raw._typecode]
            refs = np.frombuffer(raw._dbfile.get(raw._basepos, count * raw._itemsize), dtype=dtype)
            out = (refs.astype(np.int64), list(raw._uniques))
        else:  # NumericColumn.Reader
            dtype = _BIG_ENDIAN[raw._typecode]
            stored = min(raw._count, count)
            values = np.full(count, raw._default, dtype=dtype.replace(">", "<"))
            values[:stored] = np.frombuffer(raw._dbfile.get(raw._basepos, stored * raw._fixedlen), dtype=dtype)
            out = (values, raw._default)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise Unsupported(f"column layout of {fieldname!r}: {exc}") from exc
    cache[fieldname] = out
    return out

def read_postings(reader, fieldname: str, text, values: bool = False, within=None):
    """(segment docnums, weights[, raw values]) of one term in one segment, deleted documents dropped.
    `within` (sorted segment docnums): only the blocks of postings that may hold one of them are decoded
    (a block's header names its last docnum), so that a phrase's later words cost what its rarest word
    allows; documents outside `within` may still come back."""
    np = numpy_module()
    from whoosh.matching.wrappers import FilterMatcher

    matcher = reader.postings(fieldname, text)
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    ids_parts, weight_parts, value_parts = [], [], []
    bulk = all(hasattr(matcher, a) for a in ("_read_data", "_next_block", "_byteids", "_blocklength"))
    if values and not (bulk and matcher.format.fixed_value_size() is None):
        raise Unsupported("values of this posting format")
    if bulk:
        last = -1
        while matcher.is_active():
            if within is not None:
                top = getattr(matcher, "_maxid", None)
                if top is not None:
                    k = int(np.searchsorted(within, last, side="right"))
                    last = top
                    if k >= len(within) or within[k] > top:  # no wanted document in this block
                        matcher._next_block()
                        continue
            matcher._read_data()
            data = matcher._data
            n = matcher._blocklength
            ids = np.asarray(data[0], dtype=np.int64)
            if not matcher._byteids:
                ids = np.cumsum(ids)
            weights = data[1]
            if weights is None:
                weights = np.ones(n)
            elif isinstance(weights, float):
                weights = np.full(n, weights)
            else:
                weights = np.asarray(weights, dtype=np.float64)
            ids_parts.append(ids)
            weight_parts.append(weights)
            if values:
                value_parts.extend(data[2])
            matcher._next_block()
    else:  # pragma: no cover - another codec
        pairs = []
        while matcher.is_active():
            pairs.append((matcher.id(), matcher.weight()))
            matcher.next()
        ids_parts.append(np.array([p[0] for p in pairs], dtype=np.int64))
        weight_parts.append(np.array([p[1] for p in pairs], dtype=np.float64))
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, dtype=np.int64)
    weights = np.concatenate(weight_parts) if weight_parts else np.zeros(0)
    deleted = reader.deleted_docs_set if reader.has_deletions() else None
    if deleted:
        keep = ~np.isin(ids, np.fromiter(deleted, dtype=np.int64, count=len(deleted)))
        ids, weights = ids[keep], weights[keep]
        if values:
            value_parts = [v for v, k in zip(value_parts, keep) if k]
    return (ids, weights, value_parts) if values else (ids, weights)
