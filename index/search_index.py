"""The Whoosh index of transcript segments: schema, writing a session's segments, and searching.

Each document is one segment. `bigrams` (pairs of neighbouring units, with positions) gives recall for any
string of two or more units; `units` answers one-unit queries (117, 王); `words` (jieba for Chinese, the
standard analyzer otherwise) adds word-level ranking. Word times are stored (packed: the words' text and
start/end in ms) so that a hit's time is the time of the matched word, not of its segment. case, speaker and
date are also per-document columns, which filters read for the candidate documents only
(index.fastscore); what is only shown (start, end, channel, version) is stored, not indexed.
"""
from __future__ import annotations

import functools
import logging
from array import array
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Optional, Sequence

from whoosh import columns, fields
from whoosh import query as wq
from whoosh.analysis import StandardAnalyzer, Token, Tokenizer

from core.transcript import Segment
from index.analysis import bigrams, find, unit_texts, units
from index.query import And, Node, Not, Term, positive_terms

log = logging.getLogger("xunlu.index")

# Written into every index folder; an index without it, or with another value, was built by other code and
# must be rebuilt. 2: word times packed, start/end/channel/version stored only, words without positions;
# 3: case, speaker and date also as per-document columns (filters read them for the candidates only).
INDEX_FORMAT = "xunlu-index 3"


@functools.lru_cache(maxsize=64)
def _units_of(value: str) -> tuple[str, ...]:
    """The three analysed fields get the same text in a row: cut it into units once."""
    return tuple(unit_texts(value))


# -- analyzers (module level, so that multiprocessing writers can pickle them) --------------------------
class _ListTokenizer(Tokenizer):
    def tokens_of(self, value: str) -> list[str]:
        raise NotImplementedError

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, text in enumerate(self.tokens_of(value)):
            t.text = text
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = text
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = t.endchar = start_char
            yield t


class BigramTokenizer(_ListTokenizer):
    def tokens_of(self, value: str) -> list[str]:
        return bigrams(list(_units_of(value)))


class UnitTokenizer(_ListTokenizer):
    def tokens_of(self, value: str) -> list[str]:
        return list(_units_of(value))


class WordTokenizer(_ListTokenizer):
    """jieba words over the normalised units for Chinese text, Latin words as they are."""

    def tokens_of(self, value: str) -> list[str]:
        texts = _units_of(value)
        if not any(len(t) == 1 and "\u3400" <= t <= "\u9fff" for t in texts):
            return list(texts)
        import jieba

        jieba.setLogLevel(logging.WARNING)
        return [w for w in jieba.cut(" ".join(texts).replace(" ", ""), HMM=True) if w.strip()]


def warm_up() -> None:
    """Load what indexing a first segment needs (jieba's dictionary, OpenCC, cn2an): a second or more on a
    busy machine, better paid before a live session's first segment arrives."""
    import numpy  # noqa: F401  (the searches' scorer)

    list(WordTokenizer().tokens_of("他欠了一百一十七万元，倉庫"))


def schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        session=fields.ID(stored=True),
        case=fields.ID(stored=True, sortable=columns.RefBytesColumn()),
        room=fields.ID(stored=True),
        officers=fields.KEYWORD(stored=True, commas=True),
        speaker=fields.ID(stored=True, sortable=columns.RefBytesColumn()),
        # shown, never searched: stored only (a NUMERIC field would add 8 index terms per value)
        channel=fields.STORED,
        start=fields.STORED,
        end=fields.STORED,
        version=fields.STORED,
        date=fields.DATETIME(stored=True, sortable=True),
        text=fields.STORED,
        wordtimes=fields.STORED,  # pack_times()
        bigrams=fields.TEXT(analyzer=BigramTokenizer(), phrase=True),
        units=fields.TEXT(analyzer=UnitTokenizer(), phrase=False),
        # ranking only (a word jieba found scores higher): no positions needed
        words=fields.TEXT(analyzer=WordTokenizer(), phrase=False),
        english=fields.TEXT(analyzer=StandardAnalyzer(), phrase=False),
    )


# -- documents -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionMeta:
    id: str
    case_id: Optional[str]
    room: Optional[str]
    officers: tuple[str, ...]
    started_at: Optional[str]
    version: int
    language: Optional[str] = None


def _wall_clock(started_at: Optional[str]) -> Optional[datetime]:
    if not started_at:
        return None
    try:
        return datetime.fromisoformat(started_at).replace(tzinfo=None)
    except ValueError:
        return None


def pack_times(source: str, times: Sequence[tuple[float, float, int]]) -> tuple[str, bytes]:
    """The words' source text and (start ms, end ms, characters) per word, as 32-bit integers."""
    flat = array("i")
    for start, end, length in times:
        flat.extend((round(start * 1000), round(end * 1000), length))
    return source, flat.tobytes()


def unpack_times(stored: Any) -> tuple[str, list[tuple[float, float, int]]]:
    source, packed = stored
    flat = array("i")
    flat.frombytes(packed)
    return source, [(flat[i] / 1000.0, flat[i + 1] / 1000.0, flat[i + 2]) for i in range(0, len(flat), 3)]


def documents(meta: SessionMeta, segments: Iterable[Segment]) -> Iterable[dict[str, Any]]:
    when = _wall_clock(meta.started_at)
    for seg in segments:
        if seg.words:
            source = "".join(w.text for w in seg.words)
            times = [(w.start, w.end, len(w.text)) for w in seg.words]
        else:
            source, times = seg.text, [(seg.start, seg.end, len(seg.text))]
        doc = {"id": f"{meta.id}#{seg.id}", "session": meta.id, "case": meta.case_id or "",
               "room": meta.room or "", "officers": ",".join(meta.officers), "speaker": seg.speaker or "",
               "channel": seg.channel, "start": float(seg.start), "end": float(seg.end), "version": meta.version,
               "text": seg.text, "wordtimes": pack_times(source, times),
               "bigrams": source, "units": source, "words": source,
               "english": source if (meta.language or "").startswith("en") else ""}
        if when is not None:
            doc["date"] = when
        yield doc


# -- queries -------------------------------------------------------------------------------------
def to_whoosh(node: Node) -> wq.Query:
    # A term matches by its units (one unit) or bigrams (two or more): that gives recall. A document where
    # jieba cut the same word scores higher; such a document always matches the units/bigrams too (the
    # words are cut from the same units), so the word is an optional extra (AndMaybe), not a second list
    # to walk (Or): same scores, and only the required list is iterated.
    if isinstance(node, Term):
        if len(node.units) == 1:
            return wq.AndMaybe(wq.Term("units", node.units[0]), wq.Term("words", node.units[0], boost=1.5))
        grams = bigrams(list(node.units))
        phrase = wq.Phrase("bigrams", grams) if len(grams) > 1 else wq.Term("bigrams", grams[0])
        return wq.AndMaybe(phrase, wq.Term("words", "".join(node.units), boost=1.5))
    if isinstance(node, Not):
        return wq.Not(to_whoosh(node.child))
    kids = [to_whoosh(c) for c in node.children]
    if isinstance(node, And):
        positives = [k for k in kids if not isinstance(k, wq.Not)]
        negatives = [k.query for k in kids if isinstance(k, wq.Not)]
        base = wq.And(positives) if positives else wq.Every()
        return wq.AndNot(base, wq.Or(negatives)) if negatives else base
    return wq.Or(kids)


@dataclass(frozen=True)
class Hit:
    session: str
    start: float
    end: float
    speaker: Optional[str]
    text: str
    snippet: str
    score: float
    segment: int
    channel: int
    case: Optional[str]
    date: Optional[str]

    def to_json(self) -> dict[str, Any]:
        return {"session": self.session, "start": round(self.start, 2), "end": round(self.end, 2),
                "speaker": self.speaker, "text": self.text, "snippet": self.snippet, "score": round(self.score, 4)}


def locate(stored: dict[str, Any], terms: Sequence[Term]) -> tuple[float, float, list[tuple[int, int]]]:
    """Time of the first and last matched word, and the matched source spans (for highlighting)."""
    source, times = unpack_times(stored["wordtimes"])
    found = units(source)
    texts = [u.text for u in found]
    spans: list[tuple[int, int]] = []
    for term in terms:
        for i in find(texts, list(term.units)):
            spans.append((found[i].start, found[i + len(term.units) - 1].end))
    # character offset -> word index
    owner, offsets = [], 0
    for index, (_s, _e, length) in enumerate(times):
        owner.extend([index] * length)
        offsets += length
    if not spans or not owner:
        return float(stored["start"]), float(stored["end"]), []
    spans.sort()
    first = times[owner[min(spans[0][0], len(owner) - 1)]]
    last_char = max(e for _, e in spans) - 1
    last = times[owner[min(last_char, len(owner) - 1)]]
    return float(first[0]), float(last[1]), spans


def _in_word(text: str, i: int) -> bool:
    """True when position i falls between two letters or digits of one Latin word or number."""
    a, b = text[i - 1], text[i]
    return a.isascii() and b.isascii() and a.isalnum() and b.isalnum()


def snippet(stored: dict[str, Any], spans: list[tuple[int, int]], width: int = 24) -> str:
    source = stored["wordtimes"][0]
    if not spans:
        return stored["text"]
    lo = max(0, spans[0][0] - width)
    hi = min(len(source), max(e for _, e in spans) + width)
    while 0 < lo and _in_word(source, lo):  # never cut a Latin word or a number in two
        lo -= 1
    while hi < len(source) and _in_word(source, hi):
        hi += 1
    out, pos = [], lo
    for s, e in sorted(spans):
        if s < pos or s >= hi:
            continue
        out += [source[pos:s], "<mark>", source[s:e], "</mark>"]
        pos = e
    out.append(source[pos:hi])
    return ("…" if source[:lo].strip() else "") + "".join(out).strip() + ("…" if source[hi:].strip() else "")


def to_hit(stored: dict[str, Any], score: float, terms: Sequence[Term]) -> Hit:
    start, end, spans = locate(stored, terms)
    when = stored.get("date")
    return Hit(session=stored["session"], start=start, end=end, speaker=stored.get("speaker") or None,
               text=stored["text"], snippet=snippet(stored, spans), score=float(score),
               segment=int(stored["id"].rsplit("#", 1)[1]), channel=int(stored.get("channel", 0)),
               case=stored.get("case") or None, date=when.isoformat() if when else None)


def terms_of(node: Node) -> list[Term]:
    return positive_terms(node)
