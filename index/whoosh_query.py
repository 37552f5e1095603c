"""Parsed queries (index.query) -> Whoosh queries over the fields of index.search_index: a term as written
(units, bigrams, words, digits) and, when asked for, wherever it was said (sounds)."""
from __future__ import annotations

from typing import Optional, Sequence

from whoosh import query as wq

from index import numbers, sounds
from index.analysis import bigrams
from index.query import And, Node, Not, Or, Term, positive_terms


def to_whoosh(node: Node, loose: Optional[Sequence[str]] = None, sound_only: bool = False) -> Optional[wq.Query]:
    """The Whoosh query of a parsed query. `loose` None: the terms as written; a tuple (empty: the same
    toneless pinyin; or looser tiers, index.sounds.TIERS): also wherever a term was said, whatever the
    characters. With `sound_only`, a term (or a choice of terms) is matched by sound only: what it matches as
    written is found by the query without `loose` (the terms of an AND are matched both ways, since one may
    be found as written and another by sound). Words under NOT are only ever left out as written. None when
    nothing can match (pinyin typed as separate syllables, searched as written)."""
    if isinstance(node, Term):
        said = _said(node, loose) if loose is not None else None
        if sound_only:
            return said
        written = _written(node)
        if written is None or said is None:
            return written or said
        return wq.Or([written, said])
    if isinstance(node, Not):
        child = to_whoosh(node.child)
        return wq.Not(child) if child is not None else None
    kids = [to_whoosh(c, loose, sound_only and isinstance(node, Or)) for c in node.children]
    if isinstance(node, And):
        positives, negatives = [], []
        for child, kid in zip(node.children, kids):
            if isinstance(child, Not):
                if kid is not None:
                    negatives.append(kid.query)
            elif kid is None:
                return None
            else:
                positives.append(kid)
        base = wq.And(positives) if positives else wq.Every()
        return wq.AndNot(base, wq.Or(negatives)) if negatives else base
    kids = [k for k in kids if k is not None]
    return wq.Or(kids) if kids else None


def _written(term: Term) -> Optional[wq.Query]:
    # A term matches by its units (one unit) or bigrams (two or more): that gives recall. A document where
    # jieba cut the same word scores higher; such a document always matches the units/bigrams too (the
    # words are cut from the same units), so the word is an optional extra (AndMaybe), not a second list
    # to walk (Or): same scores, and only the required list is iterated. A number of three digits or more
    # is also found inside a longer number (`digits`), a whole number scoring higher.
    if not term.units:
        return None
    if len(term.units) == 1:
        unit = term.units[0]
        q = wq.AndMaybe(wq.Term("units", unit), wq.Term("words", unit, boost=1.5))
        if unit.isdigit() and len(unit) >= numbers.MIN_PART:
            q = wq.Or([q, wq.Term("digits", unit)])
        return q
    grams = bigrams(list(term.units))
    phrase = wq.Phrase("bigrams", grams) if len(grams) > 1 else wq.Term("bigrams", grams[0])
    q = wq.AndMaybe(phrase, wq.Term("words", "".join(term.units), boost=1.5))
    part = numbers.number_query(term.units)
    return wq.Or([q, wq.Term("digits", part)]) if part else q


def _said(term: Term, loose: Sequence[str]) -> Optional[wq.Query]:
    alternatives = []
    for reading in sounds.loosen(term.pinyin, loose):
        grams = sounds.grams(reading)
        alternatives.append(SoundPhrase("sounds", grams) if len(grams) > 1 else SoundPair("sounds", grams[0]))
    if not alternatives:
        return None
    return alternatives[0] if len(alternatives) == 1 else wq.Or(alternatives)


class SoundPair(wq.Term):
    """Two syllables said as a word: the pair at an odd position of `sounds` (index.sounds.sound_tokens).
    index.fastscore checks the position; Whoosh's own searcher, should a query be left to it, takes any."""


class SoundPhrase(wq.And):
    """Three syllables or more in a row: the pairs at positions that follow each other once halved
    (index.sounds.sound_tokens). index.fastscore checks the positions; Whoosh's own searcher, should a query
    be left to it, only asks for all the pairs."""

    def __init__(self, fieldname: str, words: Sequence[str]):
        super().__init__([wq.Term(fieldname, w) for w in words])
        self.fieldname, self.words = fieldname, list(words)


def by_sound(node: Node) -> bool:
    """True when some term of the query (not under NOT) can also be found by sound."""
    return any(t.pinyin for t in positive_terms(node))
