"""Filters of a search (case, speaker, date) applied to candidate documents, from per-document columns.

`Filter` is what the fast path uses: it reads the columns of the candidates only, instead of listing every
document of a frequent speaker or a date range. `allowed_docs` lists the documents of a Whoosh filter query
(terms, ranges) in numpy, for the checks that compare both ways.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from whoosh import query as wq

from index.postings import numpy_module, read_column, read_postings


@dataclass(frozen=True)
class Filter:
    """What a search keeps: documents whose `equals` fields have those values, and whose `date_field` lies
    within [since, until] (either may be None). Read from per-document columns, for the candidates only."""
    equals: tuple[tuple[str, str], ...] = ()
    date_field: Optional[str] = None
    since: Optional[datetime] = None
    until: Optional[datetime] = None

    def __bool__(self) -> bool:
        return bool(self.equals) or self.since is not None or self.until is not None


def passing(fast, flt: Filter, docnums):
    """Which of `docnums` (global) pass the filter."""
    np = numpy_module()
    schema = fast.searcher.schema
    keep = np.zeros(len(docnums), dtype=bool)
    lo = hi = None
    if flt.date_field is not None:
        field = schema[flt.date_field]
        lo = field.to_column_value(flt.since) if flt.since is not None else None
        hi = field.to_column_value(flt.until) if flt.until is not None else None
    for leaf, offset in fast.leaves:
        reader = leaf.reader()
        inside = (docnums >= offset) & (docnums < offset + reader.doc_count_all())
        if not inside.any():
            continue
        local = docnums[inside] - offset
        ok = np.ones(len(local), dtype=bool)
        for fieldname, value in flt.equals:
            refs, uniques = read_column(reader, fieldname)
            want = schema[fieldname].to_bytes(value)
            ok &= refs[local] == uniques.index(want) if want in uniques else False
        if lo is not None or hi is not None:
            values, missing = read_column(reader, flt.date_field)
            at = values[local]
            ok &= at != missing
            if lo is not None:
                ok &= at >= lo
            if hi is not None:
                ok &= at <= hi
        keep[inside] = ok
    return keep


def allowed_docs(fast, filter_q: Optional[wq.Query]):
    """The documents a filter query lets through, as a sorted numpy array (None: no filter)."""
    if filter_q is None:
        return None
    np = numpy_module()
    return np.unique(_matching(fast, filter_q, np))


def _matching(fast, q: wq.Query, np):
    s = fast.searcher
    if isinstance(q, wq.Term) and q.fieldname in s.schema:
        btext = s.schema[q.fieldname].to_bytes(q.text) if not isinstance(q.text, bytes) else q.text
        parts = [read_postings(leaf.reader(), q.fieldname, btext)[0] + offset for leaf, offset in fast.leaves
                 if (q.fieldname, btext) in leaf.reader()]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if type(q) is wq.And and q.subqueries:
        out = np.unique(_matching(fast, q.subqueries[0], np))
        for sub in q.subqueries[1:]:
            out = np.intersect1d(out, _matching(fast, sub, np))
        return out
    if type(q) is wq.Or and q.subqueries:
        return np.unique(np.concatenate([_matching(fast, sub, np) for sub in q.subqueries]))
    if isinstance(q, wq.NumericRange) and hasattr(q, "_compile_query"):  # dates: a few term ranges
        return _matching(fast, q._compile_query(s.reader()), np)
    if type(q) is wq.TermRange and hasattr(q, "_btexts"):
        parts = [read_postings(leaf.reader(), q.fieldname, btext)[0] + offset
                 for leaf, offset in fast.leaves for btext in q._btexts(leaf.reader())]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    # the rest: Whoosh lists the documents
    return np.fromiter(s.docs_for_query(q), dtype=np.int64)
