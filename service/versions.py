"""What corrections changed: the lines of a version that differ from what the speech recognition wrote (the
player marks them), and two versions side by side, each line cut where the texts differ. Segments are
matched by id: a correction keeps every segment's id and times (archive.transcripts.edit)."""
from __future__ import annotations

import difflib
from typing import Any, Optional

from archive.store import Archive
from archive.transcripts import read_version
from archive.types import Session
from core.transcript import Segment, Transcript


def asr_base(session: Session, version: int) -> Optional[int]:
    """The speech recognition's version `version` was corrected from (following each correction's parent);
    None when `version` is itself a recognition's, or its line of parents is broken."""
    by_number = {v.version: v for v in session.transcripts}
    current, seen = by_number.get(version), set()
    if current is None or current.kind == "asr":
        return None
    while current is not None and current.kind != "asr" and current.parent is not None \
            and current.version not in seen:
        seen.add(current.version)
        current = by_number.get(current.parent)
    return current.version if current is not None and current.kind == "asr" else None


def _by_id(t: Transcript) -> dict[int, Segment]:
    return {s.id: s for s in t.segments}


def corrected(archive: Archive, sid: str, version: Optional[int] = None) -> dict[str, Any]:
    """The lines of `version` (the latest by default) whose text is not what the recognition wrote."""
    session = archive.get(sid)
    transcript = read_version(archive, sid, version)
    base = asr_base(session, transcript.version)
    lines = []
    if base is not None:
        before = _by_id(read_version(archive, sid, base))
        for seg in transcript.segments:
            old = before.get(seg.id)
            if old is None or old.text != seg.text:
                lines.append({"id": seg.id, "start": seg.start, "speaker": seg.speaker,
                              "asr": old.text if old is not None else "", "text": seg.text})
    return {"session": sid, "version": transcript.version, "base": base, "lines": lines}


def parts(a: str, b: str) -> list[dict[str, str]]:
    """`a` and `b` cut into the runs that are the same and the runs that differ (character by character)."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [{"op": op, "a": a[i1:i2], "b": b[j1:j2]} for op, i1, i2, j1, j2 in matcher.get_opcodes()]


def side_by_side(left: Transcript, right: Transcript) -> list[dict[str, Any]]:
    """The lines that differ between two versions, in time order: each with both texts and their parts."""
    a, b = _by_id(left), _by_id(right)
    rows = []
    for sid in sorted(set(a) | set(b), key=lambda i: ((a.get(i) or b[i]).start, i)):
        one, two = a.get(sid), b.get(sid)
        if one is not None and two is not None and one.text == two.text:
            continue
        seg = two or one
        rows.append({"id": sid, "start": seg.start, "speaker": seg.speaker,
                     "a": one.text if one is not None else None, "b": two.text if two is not None else None,
                     "parts": parts(one.text if one else "", two.text if two else "")})
    return rows
