"""The Whoosh index of transcript segments: schema, writing a session's segments, and searching.

Each document is one segment. `bigrams` (pairs of neighbouring units, with positions) gives recall for any
string of two or more units; `units` answers one-unit queries (117, 王); `words` (jieba for Chinese, the
standard analyzer otherwise) adds word-level ranking; `sounds` (pairs of neighbouring toneless pinyin
syllables, with positions; an odd position marks a pair said as a word: index.sounds) finds what was said
when it was written with other characters; `digits` (every part of three digits or more of a number read out
digit by digit: index.numbers) finds a number by a part of it. A number that goes on in the next segment of the same speaker is indexed joined, in
the segment where it starts (index.numbers.joined_numbers). Word times are stored (packed: the words' text and
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
from html import escape
from typing import Any, Iterable, Optional, Sequence

from whoosh import columns, fields
from whoosh.analysis import StandardAnalyzer, Token, Tokenizer

from core.transcript import Segment
from index import numbers, sounds
from index.analysis import Unit, bigrams, find, units
from index.query import Node, Term, positive_terms
from index.whoosh_query import by_sound, to_whoosh  # noqa: F401  (re-exported: the query builder)

log = logging.getLogger("xunlu.index")

# Written into every index folder; an index without it, or with another value, was built by other code and
# must be rebuilt. 2: word times packed, start/end/channel/version stored only, words without positions;
# 3: case, speaker and date also as per-document columns (filters read them for the candidates only);
# 4: `sounds` (pinyin) and `digits` (parts of numbers) fields, digits apart by spaces or split over two
# segments joined into one number.
INDEX_FORMAT = "xunlu-index 4"
FORMAT_CHANGES = {"xunlu-index 3": "sound-alike search (pinyin) and numbers found by a part of them"}


@functools.lru_cache(maxsize=64)
def _found(value: str) -> tuple[Unit, ...]:
    """The analysed fields get the same text in a row: cut it into units once."""
    return tuple(units(value))


def _units_of(value: str) -> tuple[str, ...]:
    return tuple(u.text for u in _found(value))


@functools.lru_cache(maxsize=64)
def _words_of(value: str) -> tuple[str, ...]:
    """jieba's words over the normalised units (Chinese text); () for text without Chinese."""
    texts = _units_of(value)
    if not any(len(t) == 1 and "\u3400" <= t <= "\u9fff" for t in texts):
        return ()
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return tuple(w for w in jieba.cut("".join(texts), HMM=True) if w.strip())


# -- analyzers (module level, so that multiprocessing writers can pickle them) --------------------------
class _ListTokenizer(Tokenizer):
    def tokens_of(self, value: str) -> list[str]:
        raise NotImplementedError

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pairs = ((text, pos) for pos, text in enumerate(self.tokens_of(value)))
        return _tokens(t, pairs, keeporiginal, positions, chars, start_pos, start_char)


class BigramTokenizer(_ListTokenizer):
    def tokens_of(self, value: str) -> list[str]:
        return bigrams(list(_units_of(value)))


class UnitTokenizer(_ListTokenizer):
    def tokens_of(self, value: str) -> list[str]:
        return list(_units_of(value))


class WordTokenizer(_ListTokenizer):
    """jieba words over the normalised units for Chinese text, Latin words as they are."""

    def tokens_of(self, value: str) -> list[str]:
        return list(_words_of(value) or _units_of(value))


class DigitTokenizer(_ListTokenizer):
    """Every part of three digits or more of each number read out digit by digit (index.numbers)."""

    def tokens_of(self, value: str) -> list[str]:
        return numbers.digit_tokens(value, _found(value))


@functools.lru_cache(maxsize=64)
def _syllables_of(value: str) -> tuple:
    return tuple(sounds.doc_syllables(value, _found(value), _words_of(value)))


class SoundTokenizer(Tokenizer):
    """Pairs of neighbouring toneless pinyin syllables, positioned so that a phrase never spans a break; an
    odd position marks a pair said as a word (index.sounds.sound_tokens)."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        return _tokens(t, sounds.sound_tokens(_syllables_of(value)), keeporiginal, positions, chars, start_pos,
                       start_char)


def _tokens(t, pairs, keeporiginal, positions, chars, start_pos, start_char):
    """Whoosh's one reused Token, set to each (text, position) in turn."""
    for text, pos in pairs:
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


def warm_up() -> None:
    """Load what indexing a first segment needs (jieba's dictionary, OpenCC, cn2an): a second or more on a
    busy machine, better paid before a live session's first segment arrives."""
    import numpy  # noqa: F401  (the searches' scorer)

    text = "他欠了一百一十七万元，倉庫在銀行旁边，电话8864 2285"
    list(WordTokenizer().tokens_of(text))
    list(SoundTokenizer()(text))


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
        sounds=fields.TEXT(analyzer=SoundTokenizer(), phrase=True),
        digits=fields.TEXT(analyzer=DigitTokenizer(), phrase=False),
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


def documents(meta: SessionMeta, segments: Iterable[Segment],
              context: Sequence[Segment] = ()) -> Iterable[dict[str, Any]]:
    """The documents of `segments`. `context`: segments indexed before (a live session's last ones); one of
    them whose number goes on in `segments` is given again, with the number joined."""
    when = _wall_clock(meta.started_at)
    segments = list(segments)
    ids = {seg.id for seg in segments}
    earlier = [seg for seg in context if seg.id not in ids]
    everything = earlier + segments
    texts = [numbers.source_times(seg) for seg in everything]
    joined = numbers.joined_numbers(everything, texts)
    for k, seg in enumerate(everything):
        if k < len(earlier) and k not in joined:
            continue
        source, times = (joined[k].text, joined[k].times) if k in joined else texts[k]
        doc = {"id": f"{meta.id}#{seg.id}", "session": meta.id, "case": meta.case_id or "",
               "room": meta.room or "", "officers": ",".join(meta.officers), "speaker": seg.speaker or "",
               "channel": seg.channel, "start": float(seg.start), "end": float(seg.end), "version": meta.version,
               "text": seg.text, "wordtimes": pack_times(source, times),
               "bigrams": source, "units": source, "words": source, "sounds": source, "digits": source,
               "english": source if (meta.language or "").startswith("en") else ""}
        if when is not None:
            doc["date"] = when
        yield doc


# -- hits ----------------------------------------------------------------------------------------
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
    match: str = "exact"            # "exact": as written; "sound": said, written with other characters
    written: Optional[str] = None   # for a sound match: how the ASR wrote what was heard (受信 for 授信)

    def to_json(self) -> dict[str, Any]:
        return {"session": self.session, "start": round(self.start, 2), "end": round(self.end, 2),
                "speaker": self.speaker, "text": self.text, "snippet": self.snippet, "score": round(self.score, 4),
                "match": self.match}


def _digit_spans(source: str, found: Sequence[Unit], part: str) -> list[tuple[int, int]]:
    """Where `part` (digits; ending with numbers.END: at the end of a number) lies inside a number read out
    digit by digit."""
    ending = part.endswith(numbers.END)
    part = part.rstrip(numbers.END)
    out = []
    for digits, offsets in numbers.spoken_runs(source, found):
        starts = [len(digits) - len(part)] if ending else range(len(digits) - len(part) + 1)
        out += [(offsets[i], offsets[i + len(part) - 1] + 1) for i in starts
                if i >= 0 and digits.startswith(part, i)]
    return out


def locate(stored: dict[str, Any], terms: Sequence[Term], loose: Optional[Sequence[str]] = None
           ) -> tuple[float, float, list[tuple[int, int]], Optional[str]]:
    """Time of the first and last matched word, the matched source spans (for highlighting), and with
    `loose` (a sound match) the text as written where the first term was heard."""
    source, times = unpack_times(stored["wordtimes"])
    found = units(source)
    texts = [u.text for u in found]
    spans: list[tuple[int, int]] = []
    heard: list[tuple[int, int]] = []
    for term in terms:
        for i in find(texts, list(term.units)):
            spans.append((found[i].start, found[i + len(term.units) - 1].end))
        part = term.units[0] if len(term.units) == 1 and term.units[0].isdigit() else \
            numbers.number_query(term.units)
        if part and len(part.rstrip(numbers.END)) >= numbers.MIN_PART:
            spans += _digit_spans(source, found, part)
        if loose is not None and term.pinyin:
            heard += sounds.find_sounds(source, found, sounds.loosen(term.pinyin, loose), _words_of(source))
    written = source[min(heard)[0]:min(heard)[1]] if heard else None
    spans = sorted(set(spans) | set(heard))
    # character offset -> word index
    owner = []
    for index, (_s, _e, length) in enumerate(times):
        owner.extend([index] * length)
    if not spans or not owner:
        return float(stored["start"]), float(stored["end"]), [], written
    first = times[owner[min(spans[0][0], len(owner) - 1)]]
    last_char = max(e for _, e in spans) - 1
    last = times[owner[min(last_char, len(owner) - 1)]]
    return float(first[0]), float(last[1]), spans, written


def _in_word(text: str, i: int) -> bool:
    """True when position i falls between two letters or digits of one Latin word or number."""
    a, b = text[i - 1], text[i]
    return a.isascii() and b.isascii() and a.isalnum() and b.isalnum()


def snippet(stored: dict[str, Any], spans: list[tuple[int, int]], width: int = 24) -> str:
    """The matched words in their context, as HTML: the text escaped, the matches in <mark> tags (a transcript
    line can hold anything a person typed, "<script>" included)."""
    source = stored["wordtimes"][0]
    if not spans:
        return escape(stored["text"], quote=True)
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
        out += [escape(source[pos:s]), "<mark>", escape(source[s:e]), "</mark>"]
        pos = e
    out.append(escape(source[pos:hi]))
    return ("…" if source[:lo].strip() else "") + "".join(out).strip() + ("…" if source[hi:].strip() else "")


def to_hit(stored: dict[str, Any], score: float, terms: Sequence[Term], match: str = "exact",
           loose: Optional[Sequence[str]] = None) -> Hit:
    """`match` "sound": the document matched by sound (with the tiers `loose`), not as written."""
    start, end, spans, written = locate(stored, terms, loose if match == "sound" else None)
    when = stored.get("date")
    return Hit(session=stored["session"], start=start, end=end, speaker=stored.get("speaker") or None,
               text=stored["text"], snippet=snippet(stored, spans), score=float(score),
               segment=int(stored["id"].rsplit("#", 1)[1]), channel=int(stored.get("channel", 0)),
               case=stored.get("case") or None, date=when.isoformat() if when else None, match=match,
               written=written)


def terms_of(node: Node) -> list[Term]:
    return positive_terms(node)
