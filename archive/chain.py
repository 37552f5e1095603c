"""Walking the audit chain: numbering, links, each entry's hash (SHA-256 before `chain.keyed`, HMAC under the
audit key from it on), the signed head and any anchors written down elsewhere. One pass, linear in its length.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from archive.audit import GENESIS, HEAD_CHECK, KEYED, Anchor, ChainReport, entry_body, head_problem, read_head
from archive.database import Connection
from archive.keys import AuditKey, key_path, load_key
from archive.types import ArchiveError

Visit = Callable[[int, str, str, dict[str, Any]], None]


class _Runs:
    """Problems of the same kind on three or more consecutive entries, said once: `audit entries 5-120: ...`."""

    def __init__(self) -> None:
        self.items: list[tuple[str, int, list[str]]] = []   # (kind, last seq, the single-entry texts)

    def add(self, kind: str, seq: int, text: str) -> None:
        if self.items and self.items[-1][0] == kind and self.items[-1][1] == seq - 1:
            self.items[-1] = (kind, seq, self.items[-1][2] + [text])
        else:
            self.items.append((kind, seq, [text]))

    def lines(self, messages: dict[str, str]) -> list[str]:
        out = []
        for kind, last, texts in self.items:
            out.extend(texts if len(texts) < 3 else [f"audit entries {last - len(texts) + 1}-{last}: {messages[kind]}"])
        return out


def check(conn: Connection, head_file: Path, key: Optional[AuditKey] = None, anchors: Iterable[Anchor] = (),
          visit: Optional[Visit] = None, key_file: Optional[Path] = None) -> ChainReport:
    problems: list[str] = []
    notes: list[str] = []
    key_file = key_file or key_path(head_file.parent)
    if key is None:
        try:
            key = load_key(key_file)
        except ArchiveError as exc:
            problems.append(str(exc))
    anchors = list(anchors)
    head = read_head(head_file)
    wanted = {a.seq for a in anchors}
    if head and isinstance(head.get("seq"), int):
        wanted.add(head["seq"])
    hashes: dict[int, tuple[str, str]] = {}
    runs = _Runs()
    prev, expected, count = GENESIS, 1, 0
    last: Optional[tuple[int, str]] = None
    keyed_from: Optional[int] = None
    unchecked = 0
    for row in conn.execute("SELECT * FROM audit ORDER BY seq"):
        seq = row["seq"]
        count += 1
        try:
            details = json.loads(row["details"])
            if not isinstance(details, dict):
                raise ValueError
        except ValueError:
            problems.append(f"audit entry {seq}: details are not valid JSON (edited)")
            details = {}
        if seq != expected:
            problems.append(f"audit entry {expected}" + (f"-{seq - 1}" if seq - 1 > expected else "") +
                            ": missing (deleted)")
        if row["prev_hash"] != prev:
            runs.add("link", seq, f"audit entry {seq}: does not follow the entry before it "
                                  "(an entry was removed, reordered or altered)")
        if keyed_from is None and row["action"] == KEYED:
            keyed_from = seq
            if key is not None and details.get("key") not in (None, key.id):
                problems.append(f"the audit key {key_file} (id {key.id}) is not the key this chain was keyed with "
                                f"(id {details.get('key')}): every keyed entry will look altered")
        body = entry_body(seq, row["at"], row["actor"], row["action"], row["target"], details, row["prev_hash"])
        if keyed_from is None:
            if hashlib.sha256(body).hexdigest() != row["hash"]:
                runs.add("altered", seq, f"audit entry {seq} ({row['action']} {row['target']}): content altered")
        elif key is None:
            unchecked += 1
        elif not key.check(body, row["hash"]):
            if hashlib.sha256(body).hexdigest() == row["hash"]:
                runs.add("unkeyed", seq, f"audit entry {seq} ({row['action']} {row['target']}): its hash was "
                                         "recomputed without the audit key (entries were removed, added or altered)")
            else:
                runs.add("altered", seq, f"audit entry {seq} ({row['action']} {row['target']}): content altered")
        if row["action"] == HEAD_CHECK and keyed_from is not None:
            problems.append(f"audit entry {seq} ({HEAD_CHECK}): when it was written, "
                            f"{details.get('problem', 'the head did not match the chain')}")
        if seq in wanted:
            hashes[seq] = (row["hash"], row["at"])
        if visit is not None:
            visit(seq, row["action"], row["target"], details)
        prev = row["hash"]
        last = (seq, row["hash"])
        expected = seq + 1
    problems.extend(runs.lines({"link": "do not follow the entries before them (entries were removed, "
                                         "reordered or altered)",
                                "altered": "content altered",
                                "unkeyed": "hashes recomputed without the audit key (entries were removed, added "
                                           "or altered)"}))
    if unchecked:
        problems.append(f"the audit key {key_file} is missing: the {unchecked} keyed entries from entry "
                        f"{keyed_from} on cannot be checked (restore the key)")
    if key is not None and count and keyed_from is None:
        problems.append("the audit chain is not keyed although this archive has an audit key: its "
                        f"{KEYED} entry is gone (the chain was rewritten without the key)")
    problem = head_problem(head, last, lambda s: hashes.get(s, (None,))[0], key, keyed_from is not None,
                           head_file.name)
    if problem:
        problems.append(problem)
    elif head and last and head.get("seq", 0) < last[0]:
        notes.append(f"the audit head is {last[0] - head['seq']} entries behind the chain (a process stopped "
                     "between saving an entry and signing the head); the next write signs it again")
    held = []
    for anchor in anchors:
        found = _anchor_problems(anchor, key, hashes, last)
        problems.extend(found)
        if not found:
            held.append(anchor.seq)
    return ChainReport(count, tuple(problems), tuple(notes), keyed_from,
                       head.get("seq") if head and isinstance(head.get("seq"), int) else None, tuple(held))


def _anchor_problems(anchor: Anchor, key: Optional[AuditKey], hashes: dict[int, tuple[str, str]],
                     last: Optional[tuple[int, str]]) -> list[str]:
    name = f"anchor at entry {anchor.seq} ({anchor.at})"
    out = []
    if key is not None and not anchor.signed_by(key):
        out.append(f"{name}: its signature does not match this archive's audit key (the anchor was altered, or "
                   "is from another archive or key)")
    end = last[0] if last else 0
    if anchor.seq > end:
        out.append(f"{name}: the chain ends at entry {end}: entries {end + 1}-{anchor.seq} and any after were "
                   "cut off after the anchor was taken")
    elif anchor.seq in hashes and hashes[anchor.seq][0] != anchor.hash:
        out.append(f"{name}: the chain's entry {anchor.seq} now has hash {hashes[anchor.seq][0][:12]}..., the "
                   f"anchor says {anchor.hash[:12]}...: the chain was rewritten up to that entry")
    elif anchor.seq not in hashes:
        out.append(f"{name}: the chain has no entry {anchor.seq} (deleted)")
    elif anchor.at and hashes[anchor.seq][1] != anchor.at:
        out.append(f"{name}: the chain's entry {anchor.seq} has another time ({hashes[anchor.seq][1]})")
    return out

