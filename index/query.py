"""The search syntax, parsed by a pure function into a small tree; bad syntax raises QueryError.

    王小明                 a word or name (any length of two or more units: found by its bigrams)
    "房价 上涨"            a phrase: the units in this order, next to each other
    枪 AND 刀, 枪 刀       both (AND is implied between terms)
    枪 OR 刀               either
    NOT 刀, -刀            without
    (枪 OR 刀) AND 仓库     grouping
    shouxin, shou xin      pinyin (toneless): found where those syllables were said (index.sounds)
    4729 7011              digits apart by spaces: one number

A term of two or more Chinese characters carries its syllables too (`Term.pinyin`), so that the index can
also find it where it was said but written with other characters; words under NOT never do.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Optional, Union

from core.errors import XunluError
from index.analysis import unit_texts
from index.sounds import is_syllable, query_readings


class QueryError(XunluError, ValueError):
    """The query cannot be searched; the message says why."""

    code = "bad_query"


@dataclass(frozen=True)
class Term:
    units: tuple[str, ...]   # () for pinyin typed as separate syllables: found by sound only
    raw: str
    pinyin: tuple[tuple[str, ...], ...] = ()   # the syllable sequences it sounds like (two or more each)


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    child: "Node"


Node = Union[Term, And, Or, Not]
OPERATORS = {"AND", "OR", "NOT"}


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens: ("word"|"phrase"|"op"|"("|")", text)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "\"“”「」":
            close = {"\"": "\"", "“": "”", "”": "”", "「": "」", "」": "」"}[ch]
            j = text.find(close, i + 1)
            if close == "\"" and j < 0:
                raise QueryError("unbalanced quotes: a phrase opened with \" is never closed")
            if j < 0:
                raise QueryError(f"unbalanced quotes: a phrase opened with {ch} is never closed")
            out.append(("phrase", text[i + 1:j]))
            i = j + 1
        elif ch in "()（）":
            out.append(("(" if ch in "(（" else ")", ch))
            i += 1
        elif ch == "-" and (i + 1 < len(text) and not text[i + 1].isspace()) and (not out or out[-1][0] != "word"
                                                                                   or text[i - 1].isspace()):
            out.append(("op", "NOT"))
            i += 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in "\"“”「」()（）":
                j += 1
            word = text[i:j]
            out.append(("op", word) if word in OPERATORS else ("word", word))
            i = j
    return _joined(out)


def _joined(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Words that belong together: digits apart by spaces are one number ("4729 7011"); pinyin syllables
    typed one by one ("shou xin") are one spoken word, besides each of them."""
    out: list[tuple[str, str]] = []
    for kind, text in tokens:
        prev = out[-1] if out else None
        if kind == "word" and prev and prev[0] == "word" and text.isascii() and text.isdigit() \
                and prev[1].isascii() and prev[1].isdigit():
            out[-1] = ("word", prev[1] + text)
        elif kind == "word" and is_syllable(text) and prev and (
                prev[0] == "syllables" or (prev[0] == "word" and is_syllable(prev[1]))):
            out[-1] = ("syllables", f"{prev[1]} {text}")
        else:
            out.append((kind, text))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Optional[tuple[str, str]]:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Optional[Node]:
        node = self.or_expr()
        if self.peek() is not None:
            kind, text = self.peek()
            raise QueryError("unbalanced parentheses: ')' without '('" if kind == ")" else f"unexpected {text!r}")
        return node

    def or_expr(self) -> Optional[Node]:
        parts = [self.and_expr()]
        while self.peek() == ("op", "OR"):
            self.take()
            parts.append(self.and_expr())
        kept = tuple(p for p in parts if p is not None)
        return None if not kept else kept[0] if len(kept) == 1 else Or(kept)

    def and_expr(self) -> Optional[Node]:
        parts = [self.not_expr()]
        while True:
            tok = self.peek()
            if tok == ("op", "AND"):
                self.take()
                parts.append(self.not_expr())
            elif tok is not None and (tok[0] in ("word", "phrase", "syllables", "(") or tok == ("op", "NOT")):
                parts.append(self.not_expr())
            else:
                break
        kept = tuple(p for p in parts if p is not None)
        return None if not kept else kept[0] if len(kept) == 1 else And(kept)

    def not_expr(self) -> Optional[Node]:
        if self.peek() == ("op", "NOT"):
            self.take()
            child = self.not_expr()
            if child is None:
                raise QueryError("NOT needs something after it")
            return Not(child)
        return self.atom()

    def atom(self) -> Optional[Node]:
        tok = self.peek()
        if tok is None:
            raise QueryError("the query ends where a word was expected")
        kind, text = self.take()
        if kind == "(":
            node = self.or_expr()
            if self.peek() is None or self.peek()[0] != ")":
                raise QueryError("unbalanced parentheses: '(' is never closed")
            self.take()
            return node
        if kind == ")":
            raise QueryError("unbalanced parentheses: ')' without '('")
        if kind == "op":
            raise QueryError(f"{text} needs a word on each side")
        if kind == "syllables":  # each syllable as the word it is, or all of them as one spoken word
            words = [Term(tuple(unit_texts(w)), w) for w in text.split()]
            return Or((And(tuple(words)), Term((), text, query_readings(text))))
        found = tuple(unit_texts(text))
        return Term(found, text, query_readings(text)) if found else None


def parse(text: str) -> Node:
    if not text or not text.strip():
        raise QueryError("the query is empty", code="query_empty")
    node = _Parser(_lex(text)).parse()
    if node is None:
        raise QueryError(f"the query {text!r} has nothing to search for (only punctuation or spaces)",
                         code="query_empty")
    if isinstance(node, Not):
        raise QueryError("a query cannot be only NOT: say what to look for too")
    return node


def positive_terms(node: Node) -> list[Term]:
    """The terms whose matches are shown (not those under NOT)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []
    return [t for child in node.children for t in positive_terms(child)]


def parse_day(value: Optional[str], option: str, end_of_day: bool = False) -> Optional[datetime]:
    """YYYY-MM-DD or a full ISO 8601 time; QueryError otherwise."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, 23, 59, 59) if end_of_day else datetime(d.year, d.month, d.day)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError as exc:
        raise QueryError(f"{option} {value!r} is not a date (use YYYY-MM-DD)", code="bad_date") from exc
