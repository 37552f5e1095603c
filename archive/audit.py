"""The audit chain: every action appends an entry holding the hash of the entry before it.

Since the chain was keyed (the entry `chain.keyed`, written on the first open by this version), each entry's
hash is an HMAC-SHA256 under the audit key (archive.keys), so nobody without the key can remove, reorder or
alter an entry and recompute the hashes after it. Entries written before are plain SHA-256 and are checked as
before. The newest entry's number, hash and time are kept outside the database too (`audit-head.json`),
signed with the key, so that cutting entries off the end is caught; `xunlu anchor` prints that signed head to
be kept elsewhere, and `xunlu verify --anchor` proves the chain still holds it.

Writes: `Ledger.transaction()` holds the home's writer lock (`home_lock`) and the catalog's write lock
(SQLite's, or an advisory lock on PostgreSQL: archive.database), so entries are appended in strict order across
processes; the catalog change and its audit entry are written in it and committed together; the head is signed
after the commit, before the home's lock is let go (a crash between leaves the head one step behind, which the
next open mends; a head ahead of the chain only comes from cutting entries). Before the
first entry of a transaction the head is compared with the chain: a head that is missing, ahead, unsigned or
does not match is recorded as an entry `audit.head-check`, so that the next write cannot hide it.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from archive.database import Connection
from archive.fsutil import atomic_write
from archive.keys import AuditKey, head_message
from archive.types import ArchiveError, AuditEntry

log = logging.getLogger("xunlu.archive.audit")

GENESIS = "0" * 64
KEYED = "chain.keyed"            # the first keyed entry: it records the unkeyed head it follows
HEAD_CHECK = "audit.head-check"  # the head did not match the chain when an entry was written
HEAD_MODE = 0o600


def now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


def entry_body(seq: int, at: str, actor: str, action: str, target: str, details: dict[str, Any],
               prev_hash: str) -> bytes:
    return json.dumps([seq, at, actor, action, target, details, prev_hash], ensure_ascii=False,
                      sort_keys=True, separators=(",", ":")).encode("utf-8")


def entry_hash(seq: int, at: str, actor: str, action: str, target: str, details: dict[str, Any],
               prev_hash: str, key: Optional[AuditKey] = None) -> str:
    """SHA-256 of the entry (entries before the chain was keyed), HMAC-SHA256 under `key` (since)."""
    body = entry_body(seq, at, actor, action, target, details, prev_hash)
    return key.mac(body) if key is not None else hashlib.sha256(body).hexdigest()


def _row(row: Any) -> AuditEntry:
    return AuditEntry(seq=row["seq"], at=row["at"], actor=row["actor"], action=row["action"],
                      target=row["target"], details=json.loads(row["details"]), prev_hash=row["prev_hash"],
                      hash=row["hash"])


def entries(conn: Connection, target_prefix: str | None = None) -> Iterator[AuditEntry]:
    if target_prefix:
        rows = conn.execute("SELECT * FROM audit WHERE target = ? OR target LIKE ? ORDER BY seq",
                            (target_prefix, target_prefix + "/%"))
    else:
        rows = conn.execute("SELECT * FROM audit ORDER BY seq")
    for row in rows:
        yield _row(row)


# -- the head ------------------------------------------------------------------------------------------------
def read_head(path: Path) -> Optional[dict[str, Any]]:
    """The head file's content; None when there is none; {"unreadable": True} when it is not JSON."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"unreadable": True}
    return data if isinstance(data, dict) else {"unreadable": True}


def head_problem(head: Optional[dict[str, Any]], last: Optional[tuple[int, str]],
                 hash_at: Callable[[int], Optional[str]], key: Optional[AuditKey], keyed: bool,
                 name: str = "audit-head.json") -> Optional[str]:
    """What is wrong with the head against the chain (None: it is the chain's head, or a step behind it)."""
    if head is None:
        return None if last is None else f"audit head file {name} is missing"
    if head.get("unreadable"):
        return f"audit head file {name} cannot be read (altered)"
    seq, digest = head.get("seq"), head.get("hash")
    if not isinstance(seq, int) or not isinstance(digest, str):
        return f"audit head file {name} is not a head (altered)"
    if keyed or "signature" in head:
        if "signature" not in head:
            return f"audit head file {name} is not signed (replaced by hand)"
        if key is not None and not key.check(head_message(seq, digest, str(head.get("at", ""))), head["signature"]):
            return f"audit head file {name} has a signature that does not match the audit key (altered, or " \
                   "signed with another key)"
    last_seq = last[0] if last else 0
    if last is None:
        return f"the audit chain is empty but its head says entry {seq}: the audit table was emptied"
    if seq > last_seq:
        return (f"audit chain ends at entry {last_seq} but its head says entry {seq}: entries were removed from "
                "the end or the head was altered")
    found = hash_at(seq)
    if found != digest:
        return (f"audit head says entry {seq} has hash {digest[:12]}... but the chain's entry {seq} "
                f"{'is gone' if found is None else 'has ' + found[:12] + '...'}: the chain was rewritten")
    return None


_held = threading.local()   # the homes whose writer lock this thread holds


@contextlib.contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """The home's writer lock (flock on the home folder), held from a transaction's BEGIN until its head is
    signed: the next writer, in this or another process, never finds committed entries whose head is not yet
    written (which it would have to record as a missing or altered head). Waiters are woken in turn by the
    kernel; a thread that asks again for a lock it holds (through a second Archive of the same home) gets an
    error instead of waiting for itself."""
    key = os.path.realpath(home)
    held = _held.__dict__.setdefault("homes", set())
    if key in held:
        raise ArchiveError(f"this thread already writes to the archive in {home} through another connection")
    fd = os.open(home, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)


def _write_head(home: Path, head_file: Path, key: AuditKey, seq: int, digest: str, at: str,
                locked: bool = False) -> None:
    """Sign and write the head unless a head as new or newer is there (processes finish in any order).
    `locked`: the caller holds home_lock."""
    with contextlib.nullcontext() if locked else home_lock(home):
        current = read_head(head_file)
        if current and isinstance(current.get("seq"), int) and current["seq"] >= seq and key.check(
                head_message(current["seq"], str(current.get("hash")), str(current.get("at", ""))),
                current.get("signature")):
            return
        head = {"seq": seq, "hash": digest, "at": at, "key": key.id,
                "signature": key.mac(head_message(seq, digest, at))}
        atomic_write(head_file, json.dumps(head).encode(), mode=HEAD_MODE)


@dataclass(frozen=True)
class Anchor:
    """A signed head written down elsewhere: the chain must still hold entry `seq` with this hash."""

    seq: int
    hash: str
    at: str
    signature: str
    key: str = ""

    def line(self) -> str:
        return f"xunlu-anchor seq={self.seq} at={self.at} hash={self.hash} key={self.key} sig={self.signature}"

    def signed_by(self, key: AuditKey) -> bool:
        return key.check(head_message(self.seq, self.hash, self.at), self.signature)


def parse_anchors(text: str) -> list[Anchor]:
    """Every anchor in `text`: lines printed by `xunlu anchor`, or a copy of audit-head.json."""
    found: list[Anchor] = []
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
            found.append(Anchor(int(data["seq"]), str(data["hash"]), str(data.get("at", "")),
                                str(data.get("signature", "")), str(data.get("key", ""))))
        except (ValueError, KeyError, TypeError):
            pass
        return found
    for line in stripped.splitlines():
        words = line.split()
        if not words or words[0] != "xunlu-anchor":
            continue
        fields = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        try:
            found.append(Anchor(int(fields["seq"]), fields["hash"], fields["at"], fields["sig"], fields.get("key", "")))
        except (KeyError, ValueError):
            continue
    return found


# -- writing -----------------------------------------------------------------------------------------------
class Ledger:
    """The chain's writer for one catalog connection (one thread at a time, like the connection)."""

    def __init__(self, conn: Connection, home: Path, head_file: Path, key: Optional[AuditKey],
                 key_file: Path, baseline: Optional[Callable[["Ledger"], None]] = None):
        self.conn = conn
        self.home = Path(home)
        self.head_file = head_file
        self.key = key
        self.key_file = key_file
        self._baseline = baseline
        self._depth = 0
        self._tail: Optional[tuple[int, str, str]] = None   # (seq, hash, at) of the newest entry, in a transaction
        self._checked = False
        self._keyed: Optional[int] = None
        self._key_checked: Optional[int] = None   # the chain.keyed entry the key was found to match

    # -- state ------------------------------------------------------------------------------------------
    def keyed_from(self) -> Optional[int]:
        """The seq of the chain's `chain.keyed` entry, None while the chain is not keyed."""
        if self._keyed is None:
            row = self.conn.execute("SELECT MIN(seq) FROM audit WHERE action = ?", (KEYED,)).fetchone()
            self._keyed = row[0] if row and row[0] is not None else None
        return self._keyed

    def last(self) -> Optional[tuple[int, str, str]]:
        row = self.conn.execute("SELECT seq, hash, at FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1], row[2]) if row else None

    def hash_at(self, seq: int) -> Optional[str]:
        row = self.conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None

    def require_key(self) -> AuditKey:
        if self.key is None:
            raise ArchiveError(f"the audit key {self.key_file} is missing: this archive's audit chain is signed "
                               "with it; restore it from where the site keeps its copy (nothing was written)")
        keyed = self.keyed_from()
        if keyed is not None and self._key_checked != keyed:
            row = self.conn.execute("SELECT details FROM audit WHERE seq = ?", (keyed,)).fetchone()
            try:
                chain_key = json.loads(row[0]).get("key") if row else None
            except (ValueError, AttributeError):
                chain_key = None
            if chain_key is not None and chain_key != self.key.id:
                raise ArchiveError(f"the audit key {self.key_file} (id {self.key.id}) is not the key this archive's "
                                   f"chain was keyed with (id {chain_key}): nothing was written; put the right key "
                                   "there (xunlu verify names what is wrong)")
            self._key_checked = keyed
        return self.key

    # -- transactions ------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction for a change and its audit entries; the head is signed after COMMIT, before
        the home's writer lock (home_lock) is let go. Nested use joins the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with home_lock(self.home):
            self.conn.begin()
            self._depth, self._tail, self._checked = 1, None, False
            try:
                self._prepare()
                yield
                self.conn.commit()
            except BaseException:
                self._keyed = None
                self.conn.rollback()
                raise
            finally:
                self._depth = 0
            tail, self._tail = self._tail, None
            if tail is not None:
                self._sign(tail)

    def _sign(self, tail: tuple[int, str, str]) -> None:
        try:
            _write_head(self.home, self.head_file, self.require_key(), *tail, locked=True)
        except (OSError, ArchiveError) as exc:  # committed: the head stays a step behind, mended at the next open
            log.warning("audit entry %d is saved but the head was not signed: %s", tail[0], exc)

    def append(self, actor: str, action: str, target: str, details: Optional[dict[str, Any]] = None,
               record: Optional[dict[str, Any]] = None) -> AuditEntry:
        """Append one entry (inside `transaction()`, or in one of its own); `record` binds catalog records
        (archive.records) to it."""
        if not self._depth:
            with self.transaction():
                return self.append(actor, action, target, details, record)
        details = dict(details or {})
        if record:
            details["record"] = record
        self._prepare()
        return self._insert(actor, action, target, details)

    def _insert(self, actor: str, action: str, target: str, details: dict[str, Any]) -> AuditEntry:
        key = self.require_key()
        if self._tail is None:
            self._tail = self.last() or (0, GENESIS, "")
        seq, prev = self._tail[0] + 1, self._tail[1]
        at = now()
        digest = entry_hash(seq, at, actor, action, target, details, prev, key)
        self.conn.execute("INSERT INTO audit (seq, at, actor, action, target, details, prev_hash, hash) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          (seq, at, actor, action, target, json.dumps(details, ensure_ascii=False), prev, digest))
        self._tail = (seq, digest, at)
        return AuditEntry(seq, at, actor, action, target, details, prev, digest)

    def _prepare(self) -> None:
        """Once per transaction, before anything is written in it: key the chain if it is not yet (with a
        baseline of the catalog for an older archive; a new chain over sessions that have no entries says so),
        and record a head that does not match the chain."""
        if self._checked:
            return
        key = self.require_key()
        last = self.last()
        keyed = self.keyed_from() is not None
        problem = head_problem(read_head(self.head_file), last[:2] if last else None, self.hash_at, key, keyed,
                               self.head_file.name)
        self._checked = True
        if not keyed:
            unkeyed = {"seq": last[0], "hash": last[1]} if last else {"seq": 0, "hash": GENESIS}
            details: dict[str, Any] = {"unkeyed_head": unkeyed, "key": key.id}
            if last is None:  # a new chain: over an empty catalog, unless the audit table was emptied
                held = self.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
                if held:
                    details["catalog_sessions"] = held
            entry = self._insert("system:xunlu", KEYED, "*", details)
            self._keyed = entry.seq
            if last is not None and self._baseline is not None:
                self._baseline(self)
        if problem:
            head = read_head(self.head_file) or {}
            self._insert("system:xunlu", HEAD_CHECK, "*", {"problem": problem, "head_seq": head.get("seq"),
                                                          "head_hash": head.get("hash")})
            log.error("audit head did not match the chain: %s", problem)

    def insert_bound(self, actor: str, action: str, target: str, record: dict[str, Any]) -> AuditEntry:
        """For a baseline: an entry inside the keying transaction (no second head check)."""
        return self._insert(actor, action, target, {"record": record})

    # -- upkeep --------------------------------------------------------------------------------------------
    def ensure_keyed(self) -> None:
        """Key an older archive's chain now (on open) rather than at its next write."""
        if self.key is None or self.keyed_from() is not None or self.last() is None:
            return
        with self.transaction():
            pass  # keyed (with the baseline) as the transaction starts

    def mend_head(self) -> None:
        """Sign the head again when a crash left it behind the chain (its entry still there, same hash)."""
        if self.key is None or self.keyed_from() is None:
            return
        last = self.last()
        head = read_head(self.head_file)
        if last is None or head is None or head.get("seq") == last[0]:
            return
        if head_problem(head, last[:2], self.hash_at, self.key, True) is None:
            _write_head(self.home, self.head_file, self.key, *last)

    def anchor(self, actor: str) -> Anchor:
        """Append `audit.anchor` and return the signed head that is that entry."""
        entry = self.append(actor, "audit.anchor", "*", {})
        key = self.require_key()
        return Anchor(entry.seq, entry.hash, entry.at, key.mac(head_message(entry.seq, entry.hash, entry.at)), key.id)


@dataclass(frozen=True)
class ChainReport:
    entries: int
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()
    keyed_from: Optional[int] = None
    head: Optional[int] = None
    anchors: tuple[int, ...] = ()      # the anchors that hold


def check_chain(conn: Connection, head_file: Path, key: Optional[AuditKey] = None,
                anchors: Iterable[Anchor] = (), visit: Optional[Callable[[int, str, str, dict[str, Any]], None]] = None,
                key_file: Optional[Path] = None) -> ChainReport:
    """Walk the whole chain (see archive.chain). Without `key`, the home's key is loaded."""
    from archive.chain import check

    return check(conn, head_file, key, anchors, visit, key_file)
