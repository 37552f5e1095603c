"""Exports of a session's transcript: subtitles, text, JSON, and the DOCX 讯问笔录 for signature."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional, Union

from archive.store import Archive
from archive.transcripts import read_version
from archive.types import Session
from asr.formats import render_any


def ended_at(session: Session) -> Optional[str]:
    if not session.started_at or session.duration is None:
        return None
    start = datetime.fromisoformat(session.started_at)
    return (start + timedelta(seconds=session.duration)).isoformat(timespec="seconds")


def export(archive: Archive, sid: str, fmt: str, version: Optional[int], actor: str,
           details: Optional[dict] = None) -> Union[str, bytes]:
    session = archive.get(sid)
    transcript = read_version(archive, sid, version)
    header = None
    if fmt == "docx":
        from asr.docx_record import RecordHeader

        header = RecordHeader(case_id=session.case_id, place=session.room, started_at=session.started_at,
                              ended_at=ended_at(session), officers=session.officers, person=session.suspect,
                              session_id=sid)
    questioners = tuple(s for s in session.speakers if s.lower() in ("officer", "police", "民警", "讯问人")) \
        or (session.speakers[:1] if session.speakers else ("officer",))
    data = render_any(transcript, fmt, header, questioners)
    archive.audit(actor, "export", sid, {"format": fmt, "version": transcript.version, **(details or {})})
    return data
