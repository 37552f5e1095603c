"""`xunlu verify`: the catalog, the files and the audit chain checked against each other, both ways.

- The chain: numbering, links, keyed hashes, the signed head, anchors (archive.chain).
- Catalog <-> chain: replaying the records bound to the chain's entries (archive.records) gives what every
  session row, media row, transcript version and closed warning must hold; a row that differs, a row the
  chain never saw, and a record the chain holds that the catalog lost are each named.
- Catalog <-> files: every catalogued file is re-hashed against the catalog and against the hash the chain
  recorded (a file replaced together with its catalog hash is caught); a finished session's folder holds no
  file the catalog does not know; manifest.json says what the catalog says (or an earlier state the chain
  recorded: a crash between a commit and the manifest's rewrite); no folder is there without its session.
Linear in the size of the archive: one pass over the chain, a few bulk queries, one walk of each folder.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from archive import records
from archive.audit import KEYED, Anchor, check_chain
from archive.fsutil import settle, sha256_file
from archive.layout import LIVE_WORK, PENDING_NAME, SESSION_ID, TEMP_NAME, check_id, pending
from archive.records import SessionState, Values, split_key
from archive.store import Archive
from archive.types import NotFound

UNFINISHED_OR_FAILED = ("recording", "finalising", "failed")   # interrupted work may have left files behind


@dataclass(frozen=True)
class VerifyReport:
    sessions: int
    files: int
    audit_entries: int
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()
    head: Optional[int] = None          # the signed head's entry
    anchors: tuple[int, ...] = ()       # anchors that hold

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            text = (f"intact: {self.sessions} session(s), {self.files} file(s) match their SHA-256, "
                    f"audit chain of {self.audit_entries} entries unbroken")
            if self.head is not None:
                text += f", head signed at entry {self.head}"
            if self.anchors:
                text += ", anchor(s) at entry " + ", ".join(map(str, self.anchors)) + " hold"
            return text
        return f"ALTERED: {len(self.problems)} problem(s) in {self.sessions} session(s), {self.files} file(s)"


class _Replay:
    """The records as the chain says they are now, and, per session, the states it went through."""

    def __init__(self) -> None:
        self.state: dict[str, Values] = {}
        self.bound_by: dict[str, tuple[int, str]] = {}                 # key -> (seq, action) of its last entry
        self.set_by: dict[str, dict[str, tuple[int, str]]] = {}         # key -> column -> the entry that set it
        self.events: dict[str, list[tuple[int, str, Values]]] = defaultdict(list)
        self.started_over: list[tuple[int, int]] = []                  # chain.keyed on an emptied chain

    def visit(self, seq: int, action: str, _target: str, details: dict[str, Any]) -> None:
        if action == KEYED and details.get("catalog_sessions"):
            self.started_over.append((seq, details["catalog_sessions"]))
        bound = details.get(records.RECORD)
        if not isinstance(bound, dict):
            return
        for key, values in bound.items():
            if not isinstance(values, dict):
                continue
            merged = {**self.state.get(key, {}), **values}
            self.state[key] = merged
            self.bound_by[key] = (seq, action)
            columns = self.set_by.setdefault(key, {})
            for column in values:
                columns[column] = (seq, action)
            kind, sid, _ = split_key(key)
            if kind != "warning":
                self.events[sid].append((seq, key, merged))

    def manifests(self, sid: str) -> set[str]:
        """Digests of every state of the session the chain recorded (as write_manifest would write it)."""
        state, out, current = SessionState(), set(), None
        for seq, key, values in self.events.get(sid, ()):
            if current is not None and seq != current:
                out.add(records.digest(state.manifest(sid)))
            state.put(key, values)
            current = seq
        if current is not None:
            out.add(records.digest(state.manifest(sid)))
        return out


def _label(key: str) -> str:
    kind, _sid, sub = split_key(key)
    return {"session": "session", "media": f"media {sub}", "transcript": f"transcript {sub}",
            "warning": f"warning {sub}"}.get(kind, key)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


class _Check:
    def __init__(self, archive: Archive, replay: _Replay, catalog: dict[str, Values]):
        self.archive = archive
        self.replay = replay
        self.catalog = records.by_session(catalog)
        self.chain = records.by_session(replay.state)
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.files = 0

    def entry(self, key: str, column: Optional[str] = None) -> str:
        seq, action = self.replay.set_by.get(key, {}).get(column or "", self.replay.bound_by[key])
        return f"entry {seq} {action}"

    # -- records ------------------------------------------------------------------------------------------
    def session(self, sid: str) -> None:
        cat, chain = self.catalog.get(sid, {}), self.chain.get(sid, {})
        skey = records.session_key(sid)
        if skey not in cat and skey in chain:
            folder = self.archive.sessions_dir / sid
            files = sum(1 for k in chain if split_key(k)[0] in ("media", "transcript"))
            self.problems.append(f"{sid}: session deleted from the catalog: the audit chain holds it ({self.entry(skey)}"
                                 f", with {files} file record(s)); its folder is "
                                 f"{'still there' if folder.is_dir() else 'gone too'}")
            chain = {k: v for k, v in chain.items() if k in cat}   # its files' records went with it: said once
        for key in sorted(set(cat) | set(chain), key=lambda k: (k != skey, k)):
            self.record(sid, key, cat.get(key), chain.get(key))
        if skey in cat:
            self.folder(sid, cat, self.chain.get(sid, {}))

    def record(self, sid: str, key: str, row: Optional[Values], bound: Optional[Values]) -> None:
        what = f"{sid}: {_label(key)}"
        if bound is None and row is not None and split_key(key)[0] == "warning" and row.get("state") != "closed":
            return  # open and resolved warnings are recomputed by each scan: not bound
        if bound is None:
            self.problems.append(f"{what}: in the catalog with no audit entry (written outside xunlu)")
            return
        if row is None:
            self.problems.append(f"{what}: in the audit chain ({self.entry(key)}) but gone from the catalog "
                                 "(deleted)")
            return
        for column in sorted(set(row) | set(bound)):
            if row.get(column) != bound.get(column):
                self.problems.append(f"{what}: {column} is {_show(row.get(column))} in the catalog but "
                                     f"{_show(bound.get(column))} in the audit chain ({self.entry(key, column)}): changed "
                                     "outside xunlu")

    # -- files --------------------------------------------------------------------------------------------
    def folder(self, sid: str, cat: dict[str, Values], chain: dict[str, Values]) -> None:
        root = self.archive.folder(sid)
        for key, values in sorted(cat.items()):
            kind = split_key(key)[0]
            if kind in ("media", "transcript"):
                self.file(sid, root, key, kind, values, chain.get(key))
        status = cat[records.session_key(sid)].get("status")
        if status not in UNFINISHED_OR_FAILED:
            known = {str(v.get("path")) for k, v in [*cat.items(), *chain.items()]
                     if split_key(k)[0] in ("media", "transcript")}
            for rel in _unknown_files(root, known):
                self.problems.append(f"{sid}: {rel}: a file the catalog does not know (put there outside xunlu)")
        self.manifest(sid, root, cat, chain, status)

    def file(self, sid: str, root: Path, key: str, kind: str, values: Values, bound: Optional[Values]) -> None:
        rel = str(values.get("path"))
        label = f"{sid}: {_label(key)} {rel}"
        self.files += 1
        path = root / rel
        if not os.path.normpath(path).startswith(str(root) + os.sep):
            self.problems.append(f"{label}: points outside its session folder")
            return
        expected = str(values.get("sha256"))
        if not path.is_file():
            if kind == "transcript" and settle(pending(path), path, expected):
                self.notes.append(f"{label}: put in place from its pending copy (the process that saved it "
                                  "stopped before renaming it)")
            else:
                self.problems.append(f"{label}: missing")
                return
        actual = sha256_file(path)
        original = (bound or {}).get("sha256")
        if actual != expected:
            self.problems.append(f"{label}: content changed (sha256 {actual[:12]}..., recorded {expected[:12]}...)")
        elif original and actual != original:
            self.problems.append(f"{label}: file replaced together with its sha256 in the catalog (now "
                                 f"{actual[:12]}..., the audit chain recorded {str(original)[:12]}... at "
                                 f"{self.entry(key, 'sha256')})")

    def manifest(self, sid: str, root: Path, cat: dict[str, Values], chain: dict[str, Values],
                 status: Any) -> None:
        path = root / "manifest.json"
        if not path.is_file():
            if status == "complete":
                self.problems.append(f"{sid}: manifest.json: missing")
            return
        try:
            form = records.normal_manifest(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            form = None
        if form is None:
            self.problems.append(f"{sid}: manifest.json: not a session record (edited)")
            return
        expected, recorded = _form(sid, cat), _form(sid, chain)
        if form == expected or form == recorded:  # a catalog that differs from the chain is named above
            return
        if records.digest(form) in self.replay.manifests(sid):
            self.notes.append(f"{sid}: manifest.json shows an earlier state of the session (the process stopped "
                              "before rewriting it); the next change rewrites it")
            return
        fields = [k for k in expected if form.get(k) != expected[k]]
        self.problems.append(f"{sid}: manifest.json disagrees with the catalog ({', '.join(fields)}): edited "
                             "outside xunlu")

    def stray_folders(self, known: set[str]) -> None:
        try:
            entries = sorted(os.scandir(self.archive.sessions_dir), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name in known:
                continue
            if not SESSION_ID.match(entry.name) or not entry.is_dir(follow_symlinks=False):
                self.problems.append(f"sessions/{entry.name}: not a session folder (put there outside xunlu)")
                continue
            left = _unknown_files(Path(entry.path), set(), (".lock",))
            if left:
                self.problems.append(f"{entry.name}: a session folder the catalog does not know, with "
                                     f"{len(left)} file(s) ({', '.join(left[:3])}{', ...' if len(left) > 3 else ''})")


def _form(sid: str, recs: dict[str, Values]) -> dict[str, Any]:
    state = SessionState()
    for key, values in recs.items():
        state.put(key, values)
    return state.manifest(sid)


def _unknown_files(root: Path, known: set[str], expected: tuple[str, ...] = ("manifest.json", ".lock")) -> list[str]:
    """Files under `root` that are neither catalogued, `expected` (the manifest, the lock), a write in
    progress, nor the live recording's working copies."""
    out = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        for name in sorted(files + [d for d in dirs if (here / d).is_symlink()]):
            rel = (here / name).relative_to(root).as_posix()
            if rel in known or rel in expected or TEMP_NAME.match(name) or PENDING_NAME.match(name):
                continue
            if rel.startswith("live/") and rel.count("/") == 1 and LIVE_WORK.match(name):
                continue
            out.append(rel)
    return out


def verify(archive: Archive, session_ids: Optional[Iterable[str]] = None,
           anchors: Iterable[Anchor] = ()) -> VerifyReport:
    anchors = list(anchors)
    replay = _Replay()
    chain = check_chain(archive.conn, archive.head_file, archive.key, anchors, replay.visit, archive.key_file)
    check = _Check(archive, replay, records.catalog(archive.conn, open_warnings=True))
    in_catalog = {sid for sid, recs in check.catalog.items() if records.session_key(sid) in recs}
    if session_ids:
        chosen = []
        for sid in session_ids:
            check_id(sid)
            if sid not in in_catalog and records.session_key(sid) not in replay.state:
                raise NotFound(f"no session {sid} in {archive.home}")
            chosen.append(sid)
    else:
        chosen = sorted((set(check.catalog) | set(check.chain)) - {""})
    for sid in chosen:
        check.session(sid)
    problems = check.problems
    if not session_ids:
        if "" in check.catalog or "" in check.chain:   # warnings of no session
            for key in sorted(set(check.catalog.get("", {})) | set(check.chain.get("", {}))):
                check.record("(no session)", key, check.catalog.get("", {}).get(key), check.chain.get("", {}).get(key))
        check.stray_folders(set(check.catalog) | set(check.chain))
        if chain.entries == 0 and in_catalog:
            problems.append(f"the audit chain is empty but the catalog holds {len(in_catalog)} session(s): the "
                            "audit table was emptied")
    for seq, count in replay.started_over:
        problems.append(f"audit entry {seq} ({KEYED}): the chain was started again while the catalog held {count} "
                        "session(s): the audit table had been emptied")
    problems.extend(chain.problems)
    verified = sum(1 for sid in chosen if sid in in_catalog)
    return VerifyReport(verified, check.files, chain.entries, tuple(problems), tuple(chain.notes) + tuple(check.notes),
                        chain.head if chain.keyed_from is not None else None, chain.anchors)
