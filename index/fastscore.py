"""Top-N of a query over the Whoosh index, scored a block of postings at a time with numpy.

Whoosh walks the postings of a query one document at a time in Python (about 15 µs a document), so a word
found in tens of thousands of segments takes a hundred milliseconds and more. This module reads the same
posting lists of the same index a block (128 postings) at a time and computes the same BM25F scores as
Whoosh's searcher (idf and average length of the whole index, per-document field lengths, query boosts;
And/AndMaybe/Or add the scores of the parts that match, AndNot keeps the left side's) for every candidate
at once. Queries it does not know (Every, ranges) raise `Unsupported` and are left to Whoosh; phrases of
three or more bigrams are matched by Whoosh's own phrase matcher and only their scores are gathered here.

Documents deleted in a segment are dropped, as Whoosh does. Ties are broken by document number, as
Whoosh's top collector does, so both give the same order.
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from whoosh import query as wq

log = logging.getLogger("xunlu.index")


class Unsupported(Exception):
    """This query is left to Whoosh's searcher."""


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


@dataclass(frozen=True)
class Scored:
    docnums: "object"  # numpy int64, global document numbers
    scores: "object"   # numpy float64, same length
    # Checks still owed: each takes global docnums and says which match (a phrase's positions). The scores do
    # not depend on them, so they can wait until the best candidates are known (Scored.resolved() runs them
    # on all documents, where a combination needs it).
    pending: tuple = ()

    def resolved(self) -> "Scored":
        if not self.pending:
            return self
        np = _np()
        ok = np.ones(len(self.docnums), dtype=bool)
        for check in self.pending:
            ok &= check(self.docnums)
        return Scored(self.docnums[ok], self.scores[ok])


def _np():
    import numpy as np

    return np


_LENGTHS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # segment reader -> {field: lengths}
_BYTE_TO_LENGTH = None


def _length_table():
    global _BYTE_TO_LENGTH
    if _BYTE_TO_LENGTH is None:
        np = _np()
        try:
            from whoosh.codec.whoosh3 import byte_to_length
        except ImportError:  # pragma: no cover - older layouts
            from whoosh.util.numeric import byte_to_length
        table = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
        table[0] = 1.0  # Whoosh's scorer asks doc_field_length(docnum, field, default=1)
        _BYTE_TO_LENGTH = table
    return _BYTE_TO_LENGTH


def _field_lengths(reader, fieldname: str):
    """Per-document lengths of `fieldname` in one segment, as Whoosh's scorer sees them (numpy float64)."""
    np = _np()
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


def _column(reader, fieldname: str):
    """One segment's column of `fieldname`, whole, as numpy: (refs, uniques) for a RefBytesColumn, the
    sortable integers (and the field's default, meaning no value) for a numeric one."""
    np = _np()
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


def _keep(fast: "FastScorer", flt: Filter, docnums):
    """Which of `docnums` (global) pass the filter."""
    np = _np()
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
            refs, uniques = _column(reader, fieldname)
            want = schema[fieldname].to_bytes(value)
            ok &= refs[local] == uniques.index(want) if want in uniques else False
        if lo is not None or hi is not None:
            values, missing = _column(reader, flt.date_field)
            at = values[local]
            ok &= at != missing
            if lo is not None:
                ok &= at >= lo
            if hi is not None:
                ok &= at <= hi
        keep[inside] = ok
    return keep


def _postings(reader, fieldname: str, text, values: bool = False):
    """(segment docnums, weights[, raw values]) of one term in one segment, deleted documents dropped."""
    np = _np()
    from whoosh.matching.wrappers import FilterMatcher

    matcher = reader.postings(fieldname, text)
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    ids_parts, weight_parts, value_parts = [], [], []
    bulk = all(hasattr(matcher, a) for a in ("_read_data", "_next_block", "_byteids", "_blocklength"))
    if values and not (bulk and matcher.format.fixed_value_size() is None):
        raise Unsupported("values of this posting format")
    if bulk:
        while matcher.is_active():
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


class FastScorer:
    """Scores Whoosh query trees (as built by index.search_index.to_whoosh) on one searcher."""

    def __init__(self, searcher, B: float = 0.75, K1: float = 1.2):
        from whoosh import scoring

        weighting = searcher.weighting
        if type(weighting) is not scoring.BM25F or getattr(weighting, "_field_B", None):
            raise Unsupported("only Whoosh's default BM25F weighting is reproduced")
        self.searcher = searcher
        self.B, self.K1 = weighting.B, weighting.K1
        self.leaves = list(searcher.leaf_searchers())

    # -- leaves -------------------------------------------------------------------------------------
    def _stats(self, fieldname: str, btext: bytes) -> tuple[float, float]:
        s = self.searcher
        return s.idf(fieldname, btext), (s.avg_field_length(fieldname) or 1)

    def _bm25(self, idf: float, avgfl: float, tf, fl):
        B, K1 = self.B, self.K1
        return idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))

    def _field(self, fieldname: str):
        s = self.searcher
        if fieldname not in s.schema or not s.schema[fieldname].scorable:
            raise Unsupported(f"field {fieldname!r} is not scorable")
        return s.schema[fieldname]

    def term(self, fieldname: str, text, boost: float = 1.0) -> Scored:
        np = _np()
        field = self._field(fieldname)
        btext = field.to_bytes(text) if not isinstance(text, bytes) else text
        docs, scores = [], []
        if self.searcher.doc_frequency(fieldname, btext):
            idf, avgfl = self._stats(fieldname, btext)
            for leaf, offset in self.leaves:
                reader = leaf.reader()
                if (fieldname, btext) not in reader:
                    continue
                ids, tf = _postings(reader, fieldname, btext)
                if not len(ids):
                    continue
                score = self._bm25(idf, avgfl, tf, _field_lengths(reader, fieldname)[ids])
                docs.append(ids + offset)
                scores.append(score * boost if boost != 1.0 else score)
        if not docs:
            return Scored(np.zeros(0, dtype=np.int64), np.zeros(0))
        return Scored(np.concatenate(docs), np.concatenate(scores))

    def phrase(self, q: wq.Phrase) -> Scored:
        """Whoosh's Phrase (SpanNear2, slop 1, in order): every word at consecutive positions; the score is
        the sum of the words' scores. Candidates are the intersection of the words' documents, scored at
        once; their positions are checked later (`pending`), for as few candidates as the caller needs."""
        np = _np()
        if q.slop != 1 or q.boost != 1.0:
            raise Unsupported("phrase with slop or boost")
        field = self._field(q.fieldname)
        if not field.format or not field.format.supports("positions"):
            raise Unsupported("phrase on a field without positions")
        words = [field.to_bytes(w) for w in q.words]
        if not words:
            raise Unsupported("empty phrase")
        unique = list(dict.fromkeys(words))
        stats = {w: self._stats(q.fieldname, w) for w in unique if self.searcher.doc_frequency(q.fieldname, w)}
        docs, scores, checks = [], [], []
        fmt = field.format
        if len(stats) == len(unique):
            for leaf, offset in self.leaves:
                reader = leaf.reader()
                if any((q.fieldname, w) not in reader for w in unique):
                    continue
                lists = {w: _postings(reader, q.fieldname, w, values=True) for w in unique}
                cands = None
                for w in sorted(unique, key=lambda w: len(lists[w][0])):
                    cands = lists[w][0] if cands is None else np.intersect1d(cands, lists[w][0],
                                                                             assume_unique=True)
                    if not len(cands):
                        break
                if cands is None or not len(cands):
                    continue
                at = {w: np.searchsorted(lists[w][0], cands) for w in unique}
                fl = _field_lengths(reader, q.fieldname)[cands]
                total = np.zeros(len(cands))
                for w in words:  # a word twice in the phrase counts twice, as in Whoosh's intersection
                    idf, avgfl = stats[w]
                    total += self._bm25(idf, avgfl, lists[w][1][at[w]], fl)
                docs.append(cands + offset)
                scores.append(total)
                checks.append((offset, cands, lists))
        if not docs:
            return Scored(np.zeros(0, dtype=np.int64), np.zeros(0))

        def positions_follow(global_docs):
            """Which of these candidates have the words at consecutive positions."""
            ok = np.zeros(len(global_docs), dtype=bool)
            for offset, cands, lists in checks:
                inside = np.nonzero(np.isin(global_docs, cands + offset))[0]
                for k in inside:
                    local = global_docs[k] - offset
                    seqs = []
                    for w in words:
                        ids = lists[w][0]
                        seqs.append(fmt.decode_positions(lists[w][2][int(np.searchsorted(ids, local))]))
                    later = [set(p) for p in seqs[1:]]
                    ok[k] = any(all(p + i in later[i - 1] for i in range(1, len(words))) for p in seqs[0])
            return ok

        return Scored(np.concatenate(docs), np.concatenate(scores), (positions_follow,))

    # -- combinations --------------------------------------------------------------------------------
    def evaluate(self, q: wq.Query) -> Scored:
        np = _np()
        if isinstance(q, wq.Term):
            return self.term(q.fieldname, q.text, q.boost)
        if isinstance(q, wq.Phrase):
            return self.phrase(q)
        # A required part's pending checks can wait (they only remove documents); an optional or excluded
        # part's must be settled first, since they decide a score or an exclusion.
        if isinstance(q, wq.AndMaybe):
            a, b = self.evaluate(q.a), self.evaluate(q.b).resolved()
            return _plus(a, b, np)
        if isinstance(q, wq.AndNot):
            a, b = self.evaluate(q.a), self.evaluate(q.b).resolved()
            keep = ~np.isin(a.docnums, b.docnums)
            return Scored(a.docnums[keep], a.scores[keep], a.pending)
        if isinstance(q, (wq.And, wq.Or)) and q.boost == 1.0 and type(q) in (wq.And, wq.Or):
            parts = [self.evaluate(c) for c in q.subqueries]
            if not parts:
                raise Unsupported("empty compound")
            if isinstance(q, wq.And):
                out = parts[0]
                for p in parts[1:]:
                    common = np.intersect1d(out.docnums, p.docnums)
                    out = Scored(common, _at(out, common, np) + _at(p, common, np), out.pending + p.pending)
                return out
            parts = [p.resolved() for p in parts]
            docs = np.unique(np.concatenate([p.docnums for p in parts]))
            total = np.zeros(len(docs))
            for p in parts:
                total[np.searchsorted(docs, p.docnums)] += p.scores
            return Scored(docs, total)
        raise Unsupported(type(q).__name__)

    def top(self, q: wq.Query, limit: int, allowed=None, keep: Optional[Filter] = None) -> list[tuple[int, float]]:
        """The best `limit` (docnum, score), best first, ties by docnum; only docnums in `allowed` when
        given (a sorted numpy array), and only those passing `keep`."""
        np = _np()
        found = self.evaluate(q)
        docs, scores = found.docnums, found.scores
        if allowed is not None:
            mask = np.isin(docs, allowed, assume_unique=False)
            docs, scores = docs[mask], scores[mask]
        if keep:
            mask = _keep(self, keep, docs)
            docs, scores = docs[mask], scores[mask]
        if not len(docs):
            return []
        if found.pending:  # best first, checking candidates a batch at a time until `limit` pass
            order = np.lexsort((docs, -scores))
            out: list[tuple[int, float]] = []
            start, batch = 0, max(2 * limit, 32)
            while len(out) < limit and start < len(order):
                chunk = order[start:start + batch]
                ok = np.ones(len(chunk), dtype=bool)
                for check in found.pending:
                    ok &= check(docs[chunk])
                out += [(int(docs[i]), float(scores[i])) for i in chunk[ok]]
                start += batch
                batch *= 2
            return out[:limit]
        if len(docs) > limit:
            cut = np.argpartition(-scores, limit - 1)[:limit]
            threshold = scores[cut].min()
            # every document scoring the threshold competes on docnum, as in Whoosh
            pick = np.nonzero(scores >= threshold)[0]
            docs, scores = docs[pick], scores[pick]
        order = np.lexsort((docs, -scores))[:limit]
        return [(int(docs[i]), float(scores[i])) for i in order]


def _at(s: Scored, docs, np):
    """Scores of `s` at `docs` (all present in s.docnums)."""
    order = np.argsort(s.docnums, kind="stable")
    pos = np.searchsorted(s.docnums[order], docs)
    return s.scores[order][pos]


def _plus(a: Scored, b: Scored, np) -> Scored:
    """a's documents; b's score added where b matches too."""
    if not len(b.docnums) or not len(a.docnums):
        return a
    order = np.argsort(b.docnums, kind="stable")
    bd, bs = b.docnums[order], b.scores[order]
    pos = np.searchsorted(bd, a.docnums)
    pos_c = np.minimum(pos, len(bd) - 1)
    hit = bd[pos_c] == a.docnums
    return Scored(a.docnums, a.scores + np.where(hit, bs[pos_c], 0.0), a.pending)


def allowed_docs(fast: FastScorer, filter_q: Optional[wq.Query]):
    """The documents a filter query lets through, as a sorted numpy array (None: no filter)."""
    if filter_q is None:
        return None
    np = _np()
    return np.unique(_matching(fast, filter_q, np))


def _matching(fast: FastScorer, q: wq.Query, np):
    s = fast.searcher
    if isinstance(q, wq.Term) and q.fieldname in s.schema:
        btext = s.schema[q.fieldname].to_bytes(q.text) if not isinstance(q.text, bytes) else q.text
        parts = [_postings(leaf.reader(), q.fieldname, btext)[0] + offset for leaf, offset in fast.leaves
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
        parts = [_postings(leaf.reader(), q.fieldname, btext)[0] + offset
                 for leaf, offset in fast.leaves for btext in q._btexts(leaf.reader())]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    # the rest: Whoosh lists the documents
    return np.fromiter(s.docs_for_query(q), dtype=np.int64)
