"""Top-N of a query over the Whoosh index, scored a block of postings at a time with numpy.

Whoosh walks the postings of a query one document at a time in Python (about 15 µs a document), so a word
found in tens of thousands of segments takes a hundred milliseconds and more. This module reads the same
posting lists of the same index a block (128 postings) at a time and computes the same BM25F scores as
Whoosh's searcher (idf and average length of the whole index, per-document field lengths, query boosts;
And/AndMaybe/Or add the scores of the parts that match, AndNot keeps the left side's) for every candidate
at once. A phrase (Whoosh's SpanNear2, slop 1) scores the documents that have all its words, and checks
their positions lazily: best candidates first, only until the page is full. Queries it does not know
(Every, ranges) raise `Unsupported` and are left to Whoosh's own searcher.

Documents deleted in a segment are dropped, as Whoosh does. Ties are broken by document number, as
Whoosh's top collector does, so both give the same order.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from whoosh import query as wq

from index.fastfilter import Filter, passing
from index.postings import Unsupported, field_lengths, numpy_module, read_postings
from index.whoosh_query import SoundPair, SoundPhrase

log = logging.getLogger("xunlu.index")


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
        np = numpy_module()
        ok = np.ones(len(self.docnums), dtype=bool)
        for check in self.pending:
            ok &= check(self.docnums)
        return Scored(self.docnums[ok], self.scores[ok])

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
        np = numpy_module()
        field = self._field(fieldname)
        btext = field.to_bytes(text) if not isinstance(text, bytes) else text
        docs, scores = [], []
        if self.searcher.doc_frequency(fieldname, btext):
            idf, avgfl = self._stats(fieldname, btext)
            for leaf, offset in self.leaves:
                reader = leaf.reader()
                if (fieldname, btext) not in reader:
                    continue
                ids, tf = read_postings(reader, fieldname, btext)
                if not len(ids):
                    continue
                score = self._bm25(idf, avgfl, tf, field_lengths(reader, fieldname)[ids])
                docs.append(ids + offset)
                scores.append(score * boost if boost != 1.0 else score)
        if not docs:
            return Scored(np.zeros(0, dtype=np.int64), np.zeros(0))
        return Scored(np.concatenate(docs), np.concatenate(scores))

    def word_pair(self, q: SoundPair) -> Scored:
        """A pair of syllables said as a word: the term's documents and scores, and a check owed (`pending`)
        that one of its positions in the document is odd (index.sounds.sound_tokens)."""
        np = numpy_module()
        field = self._field(q.fieldname)
        if not field.format or not field.format.supports("positions"):
            raise Unsupported("a word pair on a field without positions")
        btext = field.to_bytes(q.text)
        docs, scores, checks = [], [], []
        if self.searcher.doc_frequency(q.fieldname, btext):
            idf, avgfl = self._stats(q.fieldname, btext)
            for leaf, offset in self.leaves:
                reader = leaf.reader()
                if (q.fieldname, btext) not in reader:
                    continue
                ids, tf, values = read_postings(reader, q.fieldname, btext, values=True)
                if not len(ids):
                    continue
                docs.append(ids + offset)
                scores.append(self._bm25(idf, avgfl, tf, field_lengths(reader, q.fieldname)[ids]) * q.boost)
                checks.append((offset, ids, values))
        if not docs:
            return Scored(np.zeros(0, dtype=np.int64), np.zeros(0))
        fmt = field.format

        def said_as_a_word(global_docs):
            ok = np.zeros(len(global_docs), dtype=bool)
            for offset, ids, values in checks:
                for k in np.nonzero(np.isin(global_docs, ids + offset))[0]:
                    value = values[int(np.searchsorted(ids, global_docs[k] - offset))]
                    ok[k] = any(p & 1 for p in fmt.decode_positions(value))
            return ok

        return Scored(np.concatenate(docs), np.concatenate(scores), (said_as_a_word,))

    def phrase(self, q, halved: bool = False) -> Scored:
        """Whoosh's Phrase (SpanNear2, slop 1, in order): every word at consecutive positions; the score is
        the sum of the words' scores. Candidates are the intersection of the words' documents, scored at
        once; their positions are checked later (`pending`), for as few candidates as the caller needs.
        `halved`: positions follow each other once halved (a SoundPhrase: index.sounds.sound_tokens)."""
        np = numpy_module()
        if getattr(q, "slop", 1) != 1 or q.boost != 1.0:
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
                # the rarest word first; of the others only the blocks that may hold a candidate
                lists, cands = {}, None
                for w in sorted(unique, key=lambda w: reader.doc_frequency(q.fieldname, w)):
                    lists[w] = read_postings(reader, q.fieldname, w, values=True, within=cands)
                    cands = lists[w][0] if cands is None else np.intersect1d(cands, lists[w][0],
                                                                             assume_unique=True)
                    if not len(cands):
                        break
                if cands is None or not len(cands):
                    continue
                at = {w: np.searchsorted(lists[w][0], cands) for w in unique}
                fl = field_lengths(reader, q.fieldname)[cands]
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
                        found = fmt.decode_positions(lists[w][2][int(np.searchsorted(ids, local))])
                        seqs.append([p >> 1 for p in found] if halved else found)
                    later = [set(p) for p in seqs[1:]]
                    ok[k] = any(all(p + i in later[i - 1] for i in range(1, len(words))) for p in seqs[0])
            return ok

        return Scored(np.concatenate(docs), np.concatenate(scores), (positions_follow,))

    # -- combinations --------------------------------------------------------------------------------
    def evaluate(self, q: wq.Query, lazy_or: bool = False) -> Scored:
        """`lazy_or`: an Or's parts keep their pending checks (a document passes if it passes one part's);
        its score then counts the candidates of every part, checked or not. Whoosh's Or would settle them
        first: not used where the ranking must be Whoosh's own (the sound-alike tier only)."""
        np = numpy_module()
        if isinstance(q, SoundPair):
            return self.word_pair(q)
        if isinstance(q, SoundPhrase):
            return self.phrase(q, halved=True)
        if isinstance(q, wq.Term):
            return self.term(q.fieldname, q.text, q.boost)
        if isinstance(q, wq.Phrase):
            return self.phrase(q)
        # A required part's pending checks can wait (they only remove documents); an optional or excluded
        # part's must be settled first, since they decide a score or an exclusion.
        if isinstance(q, wq.AndMaybe):
            a, b = self.evaluate(q.a, lazy_or), self.evaluate(q.b, lazy_or).resolved()
            return _plus(a, b, np)
        if isinstance(q, wq.AndNot):
            a, b = self.evaluate(q.a, lazy_or), self.evaluate(q.b, lazy_or).resolved()
            keep = ~np.isin(a.docnums, b.docnums)
            return Scored(a.docnums[keep], a.scores[keep], a.pending)
        if isinstance(q, (wq.And, wq.Or)) and q.boost == 1.0 and type(q) in (wq.And, wq.Or):
            parts = [self.evaluate(c, lazy_or) for c in q.subqueries]
            if not parts:
                raise Unsupported("empty compound")
            if isinstance(q, wq.And):
                out = parts[0]
                for p in parts[1:]:
                    common = np.intersect1d(out.docnums, p.docnums)
                    out = Scored(common, _at(out, common, np) + _at(p, common, np), out.pending + p.pending)
                return out
            if lazy_or and any(p.pending for p in parts):
                return _lazy_union(parts, np)
            parts = [p.resolved() for p in parts]
            docs = np.unique(np.concatenate([p.docnums for p in parts]))
            total = np.zeros(len(docs))
            for p in parts:
                total[np.searchsorted(docs, p.docnums)] += p.scores
            return Scored(docs, total)
        raise Unsupported(type(q).__name__)

    def top(self, q: wq.Query, limit: int, allowed=None, keep: Optional[Filter] = None,
            lazy_or: bool = False) -> list[tuple[int, float]]:
        """The best `limit` (docnum, score), best first, ties by docnum; only docnums in `allowed` when
        given (a sorted numpy array), and only those passing `keep`. `lazy_or`: see evaluate()."""
        np = numpy_module()
        found = self.evaluate(q, lazy_or)
        docs, scores = found.docnums, found.scores
        if allowed is not None:
            mask = np.isin(docs, allowed, assume_unique=False)
            docs, scores = docs[mask], scores[mask]
        if keep:
            mask = passing(self, keep, docs)
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

def _lazy_union(parts: list, np) -> Scored:
    """The documents of any part, scores added; a document only in parts with checks still owed passes when
    it passes one of them (checked later, for as few documents as the caller needs)."""
    docs = np.unique(np.concatenate([p.docnums for p in parts]))
    total = np.zeros(len(docs))
    for p in parts:
        total[np.searchsorted(docs, p.docnums)] += p.scores
    settled = [p.docnums for p in parts if not p.pending]
    sure = np.unique(np.concatenate(settled)) if settled else np.zeros(0, dtype=np.int64)
    owed = [p for p in parts if p.pending]

    def passes(global_docs):
        ok = np.isin(global_docs, sure)
        for p in owed:
            todo = np.nonzero(~ok & np.isin(global_docs, p.docnums))[0]
            if len(todo):
                good = np.ones(len(todo), dtype=bool)
                for check in p.pending:
                    good &= check(global_docs[todo])
                ok[todo[good]] = True
        return ok

    return Scored(docs, total, (passes,))


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
