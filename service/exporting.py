"""Exports of a session's transcript: subtitles, text, JSON, the DOCX 讯问笔录 for signature, and the 笔录 as
PDF (the print view printed by Chromium: service/record_pdf.py)."""
from __future__ import annotations

from typing import Optional, Union

from archive.store import Archive
from archive.transcripts import read_version
from asr.formats import render_any
from service.record import ended_at, header_of, questioners  # noqa: F401  (ended_at: for callers)

RECORD_FORMATS = ("pdf",)  # beyond asr.types.FORMATS


def export(archive: Archive, sid: str, fmt: str, version: Optional[int], actor: str,
           details: Optional[dict] = None) -> Union[str, bytes]:
    session = archive.get(sid)
    transcript = read_version(archive, sid, version)
    if fmt == "pdf":
        from service.record import content
        from service.record_pdf import render_pdf

        data: Union[str, bytes] = render_pdf(content(archive, session, transcript))
    else:
        header = header_of(archive, session, transcript) if fmt == "docx" else None
        data = render_any(transcript, fmt, header, questioners(session))
    archive.audit(actor, "export", sid, {"format": fmt, "version": transcript.version, **(details or {})})
    return data
