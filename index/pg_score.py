"""Top-N of a query over the PostgreSQL rows (index.pg_store), ranked as the Whoosh backend ranks them.

The query tree is the one index.whoosh_query builds for Whoosh. PostgreSQL finds the candidates: the rows that
hold every token the tree needs (`@>` on the GIN-indexed arrays: an AND of a phrase's pairs, an OR of
alternatives), within the filters (case, speaker, date), and gives for each candidate the positions of each
token of the tree in its array and each field's length. The scoring, the phrase positions and the best-first
checks are index.fastscore's own (`PgScorer` gives it the candidates' postings instead of a Whoosh segment's),
with the document statistics (documents, document frequencies, average field lengths) taken from PostgreSQL,
so that on an index built in one go the scores and the order are those of the Whoosh backend (ties by the
order the rows were written, as Whoosh's by document number).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from whoosh import query as wq

from archive.database import Connection
from index import pg_store
from index.fastscore import FastScorer, Scored
from index.pg_store import FIELDS, TABLE, Totals
from index.postings import Unsupported, numpy_module
from index.whoosh_query import SoundPair, SoundPhrase

B, K1 = 0.75, 1.2   # Whoosh's BM25F defaults, which the Whoosh backend scores with


@dataclass(frozen=True)
class Filters:
    case_id: Optional[str] = None
    speaker: Optional[str] = None
    since: Optional[datetime] = None
    until: Optional[datetime] = None

    def sql(self) -> tuple[str, list[Any]]:
        parts, args = [], []
        for column, value in (("case_id = ?", self.case_id), ("speaker = ?", self.speaker),
                              ("date >= ?", self.since), ("date <= ?", self.until)):
            if value is not None:
                parts.append(column)
                args.append(value)
        return " AND ".join(parts) or "TRUE", args


def _field(name: str) -> str:
    if name not in FIELDS:
        raise Unsupported(f"field {name!r} is not in the PostgreSQL index")
    return name


def _leaves(q: wq.Query, out: dict[tuple[str, str], bool]) -> None:
    """Every (field, token) of the tree, once, and whether its positions are needed (a phrase's word, a pair of
    syllables said as a word) or only how often it occurs."""
    if isinstance(q, SoundPhrase) or isinstance(q, wq.Phrase):
        for w in q.words:
            out[(_field(q.fieldname), w)] = True
    elif isinstance(q, wq.Term):
        key = (_field(q.fieldname), q.text)
        out[key] = out.get(key, False) or isinstance(q, SoundPair)
    elif isinstance(q, (wq.AndMaybe, wq.AndNot)):
        _leaves(q.a, out)
        _leaves(q.b, out)
    elif isinstance(q, wq.Not):
        _leaves(q.query, out)
    elif isinstance(q, wq.Every):
        return
    elif isinstance(q, (wq.And, wq.Or)):
        for c in q.subqueries:
            _leaves(c, out)
    else:
        raise Unsupported(type(q).__name__)


def _needs(q: wq.Query, args: list[Any]) -> str:
    """SQL true of every row the tree can match (and of some it cannot: positions are checked later)."""
    if isinstance(q, SoundPhrase) or isinstance(q, wq.Phrase):
        args.append(list(q.words))
        return f"{_field(q.fieldname)} @> ?::text[]"
    if isinstance(q, wq.Term):
        args.append([q.text])
        return f"{_field(q.fieldname)} @> ?::text[]"
    if isinstance(q, (wq.AndMaybe, wq.AndNot)):
        return _needs(q.a, args)
    if isinstance(q, (wq.Every, wq.Not)):
        return "TRUE"
    if isinstance(q, (wq.And, wq.Or)) and q.subqueries:
        joiner = " AND " if isinstance(q, wq.And) else " OR "
        return "(" + joiner.join(_needs(c, args) for c in q.subqueries) + ")"
    raise Unsupported(type(q).__name__)


@dataclass(frozen=True)
class Candidates:
    seqs: Any                                   # numpy int64, sorted: the rows' seq (Whoosh's docnum)
    counts: dict[tuple[str, str], Any]          # (field, token) -> per candidate, how often it occurs (numpy)
    positions: dict[tuple[str, str], list]      # (field, token) -> per candidate, its 1-based array indexes
    lengths: dict[str, Any]                     # field -> per candidate, the length Whoosh scores with
    sound_positions: Optional[list] = None      # per candidate, `sounds_pos` (when the tree has pinyin)


def candidates(conn: Connection, q: wq.Query, filters: Filters) -> Candidates:
    np = numpy_module()
    keys: dict[tuple[str, str], bool] = {}
    _leaves(q, keys)
    keys_l = list(keys)
    fields = list(dict.fromkeys(f for f, _ in keys_l))
    sounds = "sounds" in fields
    args: list[Any] = []
    select = ["seq"] + [f"array_positions({f}, ?::text)" if keys[(f, t)] else
                        f"cardinality(array_positions({f}, ?::text))" for f, t in keys_l]
    select += [f"cardinality({f})" for f in fields]
    args += [t for _, t in keys_l]
    if sounds:
        select.append("sounds_pos")
    where = _needs(q, args)
    flt, fargs = filters.sql()
    rows = conn.execute(f"SELECT {', '.join(select)} FROM {TABLE} WHERE {where} AND {flt} ORDER BY seq",
                        [*args, *fargs]).fetchall()
    n, count = len(keys_l), len(rows)
    seqs = np.fromiter((r[0] for r in rows), dtype=np.int64, count=count)
    positions = {k: [r[1 + i] or () for r in rows] for i, k in enumerate(keys_l) if keys[k]}
    counts = {k: (np.fromiter((len(p) for p in positions[k]), dtype=np.float64, count=count) if keys[k] else
                  np.fromiter((r[1 + i] or 0 for r in rows), dtype=np.float64, count=count))
              for i, k in enumerate(keys_l)}
    lengths = {f: _scored_lengths(np.fromiter((r[1 + n + j] for r in rows), dtype=np.int64, count=count))
               for j, f in enumerate(fields)}
    return Candidates(seqs, counts, positions, lengths, [r[-1] for r in rows] if sounds else None)


_SCORED: list = []   # field length -> the length Whoosh scores with, for lengths under 1 << 16


def _scored_lengths(lengths):
    """Whoosh keeps a document's field length in one byte (whoosh.util.numeric.length_to_byte) and scores with
    the length that byte stands for (index.postings: an empty field counts as 1)."""
    np = numpy_module()
    from whoosh.util.numeric import length_to_byte

    from index.postings import _length_table

    if not _SCORED:
        _SCORED.append(_length_table()[np.array([length_to_byte(n) for n in range(1 << 16)])])
    table = _SCORED[0]
    small = lengths < len(table)
    if small.all():
        return table[lengths]
    return np.where(small, table[np.minimum(lengths, len(table) - 1)],
                    _length_table()[[length_to_byte(int(n)) for n in lengths]])


def frequencies(conn: Connection, q: wq.Query) -> dict[tuple[str, str], int]:
    """How many rows of the whole index hold each (field, token) of the tree (index.pg_store keeps them)."""
    keys: dict[tuple[str, str], bool] = {}
    _leaves(q, keys)
    return pg_store.frequencies(conn, list(keys))


class PgScorer(FastScorer):
    """index.fastscore's scoring over the candidates of one query, with PostgreSQL's statistics."""

    def __init__(self, found: Candidates, totals: Totals, df: dict[tuple[str, str], int]):
        self.B, self.K1 = B, K1
        self.found, self.totals, self.df = found, totals, df

    def _stats(self, fieldname: str, text) -> tuple[float, float]:
        from math import log

        docs = self.totals.docs
        idf = log(docs / (self.df.get((fieldname, text), 0) + 1)) + 1
        return idf, (self.totals.lengths[fieldname] / (docs or 1)) or 1

    def _tf(self, fieldname: str, text: str):
        found = self.found.counts.get((fieldname, text))
        if found is None:
            raise Unsupported(f"{fieldname}:{text} was not fetched")
        return found

    def term(self, fieldname: str, text, boost: float = 1.0) -> Scored:
        np = numpy_module()
        tf = self._tf(fieldname, text)
        has = tf > 0
        if not self.df.get((fieldname, text)) or not has.any():
            return Scored(np.zeros(0, dtype=np.int64), np.zeros(0))
        idf, avgfl = self._stats(fieldname, text)
        score = self._bm25(idf, avgfl, tf[has], self.found.lengths[fieldname][has])
        return Scored(self.found.seqs[has], score * boost if boost != 1.0 else score)

    def _where(self, seqs):
        """Candidate indexes of these seqs."""
        return numpy_module().searchsorted(self.found.seqs, seqs)

    def word_pair(self, q: SoundPair) -> Scored:
        """A pair of syllables said as a word: one of its positions is odd (index.sounds.sound_tokens)."""
        np = numpy_module()
        found = self.term(q.fieldname, q.text, q.boost)
        at = self.found.positions[(q.fieldname, q.text)]
        pos = self.found.sound_positions

        def said_as_a_word(seqs):
            return np.array([any(pos[k][i - 1] & 1 for i in at[k]) for k in self._where(seqs)], dtype=bool)

        return Scored(found.docnums, found.scores, (said_as_a_word,))

    def phrase(self, q, halved: bool = False) -> Scored:
        """Every word at consecutive positions (a SoundPhrase: positions that follow each other once halved);
        the score is the sum of the words' scores, the positions checked later (`pending`)."""
        np = numpy_module()
        if getattr(q, "slop", 1) != 1 or q.boost != 1.0:
            raise Unsupported("phrase with slop or boost")
        words = list(q.words)
        if not words:
            raise Unsupported("empty phrase")
        field = q.fieldname
        if any(not self.df.get((field, w)) for w in words):
            return Scored(np.zeros(0, dtype=np.int64), np.zeros(0))
        tfs = {w: self._tf(field, w) for w in dict.fromkeys(words)}
        has = np.logical_and.reduce([tf > 0 for tf in tfs.values()])
        if not has.any():
            return Scored(np.zeros(0, dtype=np.int64), np.zeros(0))
        fl = self.found.lengths[field][has]
        total = np.zeros(int(has.sum()))
        for w in words:  # a word twice in the phrase counts twice, as in Whoosh's intersection
            idf, avgfl = self._stats(field, w)
            total += self._bm25(idf, avgfl, tfs[w][has], fl)
        lists = [self.found.positions[(field, w)] for w in words]
        pos = self.found.sound_positions if field == "sounds" else None

        def positions_follow(seqs):
            ok = np.zeros(len(seqs), dtype=bool)
            for n, k in enumerate(self._where(seqs)):
                if pos is not None:
                    seq_pos = [[pos[k][i - 1] >> 1 if halved else pos[k][i - 1] for i in lst[k]] for lst in lists]
                else:
                    seq_pos = [list(lst[k]) for lst in lists]
                later = [set(p) for p in seq_pos[1:]]
                ok[n] = any(all(p + i in later[i - 1] for i in range(1, len(words))) for p in seq_pos[0])
            return ok

        return Scored(self.found.seqs[has], total, (positions_follow,))

    def evaluate(self, q: wq.Query, lazy_or: bool = False) -> Scored:
        np = numpy_module()
        if isinstance(q, wq.Every):   # every candidate (the filters are applied already)
            return Scored(self.found.seqs, np.ones(len(self.found.seqs)))
        if isinstance(q, wq.Not):
            inner = self.evaluate(q.query).resolved()
            keep = ~np.isin(self.found.seqs, inner.docnums)
            return Scored(self.found.seqs[keep], np.ones(int(keep.sum())))
        return super().evaluate(q, lazy_or)
