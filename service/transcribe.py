"""Re-transcription: ASR again on a session's original, added as a new transcript version (never an
overwrite), then indexed. `xunlu transcribe SESSION` uses it; a re-run with a better model is the usual case."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Optional

from archive.store import Archive
from archive.transcripts import add_version
from archive.types import ArchiveError, TranscriptVersion
from asr.engine import collect
from asr.types import TranscribeOptions
from core.transcript import Transcript
from service.importing import Progress
from service.indexing import index_session

log = logging.getLogger("xunlu.transcribe")


def retranscribe(home: Path, archive: Archive, sid: str, transcriber: Callable[[], Any], options: TranscribeOptions,
                 actor: str, reason: str, progress: Optional[Progress] = None,
                 warn: Callable[[str], None] = log.warning) -> tuple[Transcript, TranscriptVersion]:
    """Transcribe the session's original with `transcriber()` (loaded once the session is known to have an
    original) and the session's speakers; returns the transcript and the version it was saved as."""
    session = archive.get(sid)
    original = session.file("original")
    if original is None:
        raise ArchiveError(f"session {sid} has no original media to transcribe")
    model = transcriber()
    path = archive.paths(sid).file(original.path)
    segments, info = model.transcribe(str(path), options.with_(speakers=session.speakers))
    if progress is not None:
        progress.start(info)
    transcript = collect(segments, info, progress.advance if progress is not None else None)
    version = add_version(archive, sid, transcript, "asr", actor, reason=reason,
                          parent=session.latest.version if session.latest else None)
    try:
        index_session(home, archive, sid)
    except Exception as exc:  # the index can always be rebuilt from the archive
        warn(f"{sid} is saved but not yet searchable ({exc}); run xunlu reindex")
    return transcript, version
