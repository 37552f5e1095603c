"""`xunlu verify`: re-hash every media and transcript file and walk the audit chain."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from archive.audit import check_chain
from archive.fsutil import sha256_file
from archive.store import Archive


@dataclass(frozen=True)
class VerifyReport:
    sessions: int
    files: int
    audit_entries: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return (f"intact: {self.sessions} session(s), {self.files} file(s) match their SHA-256, "
                    f"audit chain of {self.audit_entries} entries unbroken")
        return f"ALTERED: {len(self.problems)} problem(s) in {self.sessions} session(s), {self.files} file(s)"


def verify(archive: Archive, session_ids: Optional[Iterable[str]] = None) -> VerifyReport:
    ids = list(session_ids) if session_ids else [s.id for s in archive.list()]
    problems: list[str] = []
    files = 0
    for sid in ids:
        session = archive.get(sid)  # NotFound for an unknown id
        folder = archive.folder(sid)
        recorded = [(f"media {m.role}", m.path, m.sha256) for m in session.media] + \
                   [(f"transcript v{t.version}", t.path, t.sha256) for t in session.transcripts]
        for label, rel, expected in recorded:
            files += 1
            path = folder / rel
            if not path.is_file():
                problems.append(f"{sid}: {label} {rel}: missing")
                continue
            actual = sha256_file(path)
            if actual != expected:
                problems.append(f"{sid}: {label} {rel}: content changed (sha256 {actual[:12]}..., "
                                f"recorded {expected[:12]}...)")
    chain = check_chain(archive.conn, archive.head_file)
    problems.extend(chain.problems)
    return VerifyReport(len(ids), files, chain.entries, tuple(problems))
