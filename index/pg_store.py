"""The search index's rows in PostgreSQL: one row per segment, with the fields that are shown (session, segment,
speaker, channel, case, date, text, word times) and, as `text[]` arrays, the same tokens the Whoosh fields hold
(index.search_index's analyzers: character pairs, units, jieba words, pinyin pairs, parts of numbers), each
array under a GIN index, so that `@>` finds the candidate segments of a query term.

An array keeps its tokens in order, so a token's position is its index in the array (a phrase of character
pairs is pairs at consecutive indexes); the pinyin pairs' positions, which leave gaps and mark a pair said as
a word (index.sounds.sound_tokens), are kept beside them in `sounds_pos`. `search_totals` (one row) holds what
BM25 scoring needs of the whole index (documents and each field's total length, as Whoosh keeps them), the
format of the analyzers that filled it, and whether it was ever built; `search_terms` each token's document
frequency (the rows that hold it), so that scoring never counts rows; every write updates both in the same
transaction. Writers take the store's advisory lock (archive.database), so they follow one another across the
nodes of a centre; readers see the last committed state, a rebuild included only once it is whole.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from archive.database import Connection

STORE = "search"
FIELDS = ("bigrams", "units", "words", "sounds", "digits")   # searched: token arrays under a GIN index
TABLE = "search_segments"
TOTALS = "search_totals"
TERMS = "search_terms"
FLUSH = 200_000   # document frequencies a rebuild gathers in memory before it writes them

MIGRATIONS = [
    f"""
    CREATE TABLE {TABLE} (
        seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, session TEXT NOT NULL, case_id TEXT NOT NULL,
        room TEXT NOT NULL, officers TEXT NOT NULL, speaker TEXT NOT NULL, channel INTEGER NOT NULL,
        start_s DOUBLE PRECISION NOT NULL, end_s DOUBLE PRECISION NOT NULL, version INTEGER NOT NULL,
        date TIMESTAMP, text TEXT NOT NULL, source TEXT NOT NULL, wordtimes BYTEA NOT NULL,
        bigrams TEXT[] NOT NULL, units TEXT[] NOT NULL, words TEXT[] NOT NULL, sounds TEXT[] NOT NULL,
        sounds_pos INTEGER[] NOT NULL, digits TEXT[] NOT NULL);
    CREATE INDEX {TABLE}_session ON {TABLE} (session);
    """ + "".join(f"CREATE INDEX {TABLE}_{f} ON {TABLE} USING gin ({f});" for f in FIELDS) + f"""
    CREATE TABLE {TOTALS} (
        one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), format TEXT NOT NULL, docs BIGINT NOT NULL
    """ + "".join(f", len_{f} BIGINT NOT NULL" for f in FIELDS) + f""");
    CREATE TABLE {TERMS} (field TEXT NOT NULL, token TEXT NOT NULL, df BIGINT NOT NULL, PRIMARY KEY (field, token))
    """,
]

_COLUMNS = ("id", "session", "case_id", "room", "officers", "speaker", "channel", "start_s", "end_s", "version",
            "date", "text", "source", "wordtimes", *FIELDS, "sounds_pos")
_INSERT = (f"INSERT INTO {TABLE} ({', '.join(_COLUMNS)}) VALUES ("
           + ", ".join("?::text[]" if c in FIELDS else "?::integer[]" if c == "sounds_pos" else "?"
                       for c in _COLUMNS) + ")")
_LENGTHS = ", ".join(f"cardinality({f})" for f in FIELDS)
STORED = "seq, id, session, case_id, speaker, channel, start_s, end_s, version, date, text, source, wordtimes"


@dataclass(frozen=True)
class Totals:
    """What scoring needs of the whole index, and its state."""
    format: str
    docs: int
    lengths: dict[str, int]   # each field's total length (tokens)


def row_of(doc: dict[str, Any]) -> tuple:
    """A document of index.search_index.documents() -> the row's values, in _COLUMNS order."""
    from index.search_index import BigramTokenizer, DigitTokenizer, SoundTokenizer, UnitTokenizer, WordTokenizer

    source, packed = doc["wordtimes"]
    sounds = [(t.text, t.pos) for t in SoundTokenizer()(source, positions=True)]
    return (doc["id"], doc["session"], doc["case"], doc["room"], doc["officers"], doc["speaker"],
            int(doc["channel"]), float(doc["start"]), float(doc["end"]), int(doc["version"]), doc.get("date"),
            doc["text"], source, bytes(packed), BigramTokenizer().tokens_of(source),
            UnitTokenizer().tokens_of(source), WordTokenizer().tokens_of(source), [t for t, _ in sounds],
            DigitTokenizer().tokens_of(source), [p for _, p in sounds])


def _lengths(row: tuple) -> list[int]:
    at = _COLUMNS.index(FIELDS[0])
    return [len(row[at + k]) for k in range(len(FIELDS))]


def totals(conn: Connection) -> Totals | None:
    """None when the index was never built."""
    row = conn.execute(f"SELECT format, docs, {', '.join('len_' + f for f in FIELDS)} FROM {TOTALS}").fetchone()
    if row is None:
        return None
    return Totals(row[0], int(row[1]), {f: int(row[2 + k]) for k, f in enumerate(FIELDS)})


def start_totals(conn: Connection, index_format: str) -> None:
    """Inside a write: an empty index of `index_format` (kept as it is when there is one)."""
    conn.execute(f"INSERT INTO {TOTALS} (format, docs, {', '.join('len_' + f for f in FIELDS)}) VALUES "
                 f"(?, 0{', 0' * len(FIELDS)}) ON CONFLICT (one) DO NOTHING", (index_format,))


def _change_totals(conn: Connection, docs: int, lengths: Sequence[int]) -> None:
    if docs:
        conn.execute(f"UPDATE {TOTALS} SET docs = docs + ?, "
                     + ", ".join(f"len_{f} = len_{f} + ?" for f in FIELDS), (docs, *lengths))


def _term_counts(rows: Iterable[Sequence[Any]], at: int) -> Counter:
    """(field, token) -> how many of the rows hold it, from the rows' arrays (FIELDS in order from `at`)."""
    counts: Counter = Counter()
    for r in rows:
        for k, f in enumerate(FIELDS):
            counts.update((f, t) for t in set(r[at + k]))
    return counts


def flush_terms(conn: Connection, counts: Counter, sign: int = 1) -> None:
    """Inside a write: add (or with `sign` -1, take off) these document frequencies."""
    if not counts:
        return
    keys = list(counts)
    conn.execute(f"INSERT INTO {TERMS} (field, token, df) SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[]) "
                 f"ON CONFLICT (field, token) DO UPDATE SET df = {TERMS}.df + excluded.df",
                 ([f for f, _ in keys], [t for _, t in keys], [sign * counts[k] for k in keys]))
    if sign < 0:
        conn.execute(f"DELETE FROM {TERMS} WHERE df <= 0 AND (field, token) IN "
                     "(SELECT * FROM unnest(?::text[], ?::text[]))", ([f for f, _ in keys], [t for _, t in keys]))
    counts.clear()


def delete(conn: Connection, where: str, args: Sequence[Any]) -> None:
    """Inside a write: delete the rows `where` selects, and take them off the totals and the frequencies."""
    gone = conn.execute(f"DELETE FROM {TABLE} WHERE {where} RETURNING {_LENGTHS}, {', '.join(FIELDS)}",
                        args).fetchall()
    if gone:
        _change_totals(conn, -len(gone), [-sum(r[k] for r in gone) for k in range(len(FIELDS))])
        flush_terms(conn, _term_counts(gone, len(FIELDS)), -1)


def insert(conn: Connection, rows: Iterable[tuple], terms: Optional[Counter] = None) -> int:
    """Inside a write: add rows (row_of), in order (their `seq` is the order Whoosh numbers documents in). The
    document frequencies of their tokens are written too, or gathered in `terms` (a rebuild: flush_terms)."""
    rows = list(rows)
    conn.executemany(_INSERT, rows)
    _change_totals(conn, len(rows), [sum(col) for col in zip(*(_lengths(r) for r in rows))] if rows else [])
    counts = _term_counts(rows, _COLUMNS.index(FIELDS[0]))
    if terms is None:
        flush_terms(conn, counts)
    else:
        terms.update(counts)
        if len(terms) >= FLUSH:
            flush_terms(conn, terms)
    return len(rows)


def frequencies(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """How many rows hold each (field, token)."""
    if not keys:
        return {}
    where = " OR ".join(["(field = ? AND token = ?)"] * len(keys))   # an index lookup each, whatever the plan
    return {(r[0], r[1]): int(r[2]) for r in conn.execute(
        f"SELECT field, token, df FROM {TERMS} WHERE {where}", [x for key in keys for x in key])}


def restart(conn: Connection, index_format: str) -> None:
    """Inside a write: an empty index of `index_format`, whatever was there (a rebuild fills it again; readers
    see the old rows until it commits)."""
    conn.execute(f"DELETE FROM {TABLE}")
    conn.execute(f"DELETE FROM {TOTALS}")
    conn.execute(f"DELETE FROM {TERMS}")
    start_totals(conn, index_format)


def tidy(conn: Connection) -> None:
    """After a rebuild (outside its transaction): the planner's statistics of the new rows, and the GIN indexes'
    pending entries merged in, so that the next searches use the indexes at their speed."""
    conn.execute(f"ANALYZE {TABLE}")
    conn.execute(f"ANALYZE {TERMS}")
    for f in FIELDS:
        conn.execute(f"SELECT gin_clean_pending_list('{TABLE}_{f}'::regclass)")


def stored(conn: Connection, seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The stored fields of these rows, as index.search_index.to_hit reads them."""
    out = {}
    for r in conn.execute(f"SELECT {STORED} FROM {TABLE} WHERE seq = ANY(?::bigint[])", (list(seqs),)):
        out[int(r[0])] = {"id": r[1], "session": r[2], "case": r[3], "speaker": r[4], "channel": r[5],
                          "start": r[6], "end": r[7], "version": r[8], "date": r[9], "text": r[10],
                          "wordtimes": (r[11], bytes(r[12]))}
    return out


def versions(conn: Connection, sessions: Sequence[str]) -> dict[str, int]:
    """The transcript version indexed for each of these sessions that has rows."""
    return {r[0]: int(r[1]) for r in conn.execute(
        f"SELECT DISTINCT ON (session) session, version FROM {TABLE} WHERE session = ANY(?::text[])",
        (list(sessions),))}
