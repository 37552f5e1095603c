"""The audit chain: every action appends an entry holding the SHA-256 of the entry before it.

Removing, reordering or altering any entry breaks the chain. The newest entry's hash and the count are also
kept outside the database (`audit-head.json`), so that cutting entries off the end is caught too.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from archive.fsutil import atomic_write
from archive.types import AuditEntry

GENESIS = "0" * 64


def now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


def entry_hash(seq: int, at: str, actor: str, action: str, target: str, details: dict[str, Any],
               prev_hash: str) -> str:
    body = json.dumps([seq, at, actor, action, target, details, prev_hash], ensure_ascii=False,
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _row(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(seq=row["seq"], at=row["at"], actor=row["actor"], action=row["action"],
                      target=row["target"], details=json.loads(row["details"]), prev_hash=row["prev_hash"],
                      hash=row["hash"])


def append(conn: sqlite3.Connection, head_file: Path, actor: str, action: str, target: str,
           details: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry; safe against other processes appending at the same time."""
    details = details or {}
    conn.execute("BEGIN IMMEDIATE")
    try:
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq = (last["seq"] + 1) if last else 1
        prev = last["hash"] if last else GENESIS
        at = now()
        digest = entry_hash(seq, at, actor, action, target, details, prev)
        conn.execute("INSERT INTO audit (seq, at, actor, action, target, details, prev_hash, hash) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (seq, at, actor, action, target, json.dumps(details, ensure_ascii=False), prev, digest))
        atomic_write(head_file, json.dumps({"seq": seq, "hash": digest}).encode())
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return AuditEntry(seq, at, actor, action, target, details, prev, digest)


def entries(conn: sqlite3.Connection, target_prefix: str | None = None) -> Iterator[AuditEntry]:
    if target_prefix:
        rows = conn.execute("SELECT * FROM audit WHERE target = ? OR target LIKE ? ORDER BY seq",
                            (target_prefix, target_prefix + "/%"))
    else:
        rows = conn.execute("SELECT * FROM audit ORDER BY seq")
    for row in rows:
        yield _row(row)


@dataclass(frozen=True)
class ChainReport:
    entries: int
    problems: tuple[str, ...]


def check_chain(conn: sqlite3.Connection, head_file: Path) -> ChainReport:
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_hash = GENESIS
    for row in conn.execute("SELECT * FROM audit ORDER BY seq"):
        count += 1
        try:
            details = json.loads(row["details"])
        except ValueError:
            problems.append(f"audit entry {row['seq']}: details are not valid JSON (edited)")
            details = {}
        if row["seq"] != expected_seq:
            problems.append(f"audit entry {expected_seq}" + (f"-{row['seq'] - 1}" if row["seq"] - 1 > expected_seq
                                                             else "") + ": missing (deleted)")
        if row["prev_hash"] != prev:
            problems.append(f"audit entry {row['seq']}: does not follow the entry before it "
                            "(an entry was removed, reordered or altered)")
        digest = entry_hash(row["seq"], row["at"], row["actor"], row["action"], row["target"], details,
                            row["prev_hash"])
        if digest != row["hash"]:
            problems.append(f"audit entry {row['seq']} ({row['action']} {row['target']}): content altered")
        prev = row["hash"]
        last_hash = row["hash"]
        expected_seq = row["seq"] + 1
    try:
        head = json.loads(head_file.read_text()) if head_file.exists() else None
    except (OSError, ValueError):
        head = {"seq": -1, "hash": "unreadable"}
    if head is None and count:
        problems.append(f"audit head file {head_file.name} is missing")
    elif head is not None and (head.get("seq") != expected_seq - 1 or head.get("hash") != last_hash):
        problems.append(f"audit chain ends at entry {expected_seq - 1} but its head says entry {head.get('seq')}: "
                        "entries were removed from the end or the head was altered")
    return ChainReport(count, tuple(problems))
