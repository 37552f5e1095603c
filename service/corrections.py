"""Corrections to a transcript: saved as a new version (every earlier one stays), then indexed. Officers
correct line by line in the console (`PATCH /api/sessions/{id}/transcript`) or with `xunlu transcript edit`."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

from archive import transcripts
from archive.store import Archive
from archive.types import Conflict, TranscriptVersion
from core.transcript import Transcript
from service.indexing import index_session

log = logging.getLogger("xunlu.corrections")


def correct(home: Path, archive: Archive, sid: str, changes: dict[int, str], author: str, reason: str,
            base_version: Optional[int] = None, warn: Callable[[str], None] = log.warning) -> TranscriptVersion:
    """Replace the text of these segments (id -> text). Conflict while the session is still recording, or
    when `base_version` (the version the corrections were made on) is no longer the latest."""
    session = archive.get(sid)
    if session.status == "recording":
        raise Conflict(f"session {sid} is still being recorded: correct it after it is stopped")
    latest = session.latest.version if session.latest else None
    if base_version is not None and latest is not None and base_version != latest:
        raise Conflict(f"the transcript changed meanwhile: you edited v{base_version}, the latest is "
                       f"v{latest}; reload and correct again")
    version = transcripts.edit(archive, sid, changes, author, reason)
    _index(home, archive, sid, version, warn)
    return version


def replace(home: Path, archive: Archive, sid: str, corrected: Transcript, author: str, reason: str,
            warn: Callable[[str], None] = log.warning) -> TranscriptVersion:
    """A whole corrected transcript (JSON edited elsewhere) as the next version."""
    version = transcripts.replace_with(archive, sid, corrected, author, reason)
    _index(home, archive, sid, version, warn)
    return version


def _index(home: Path, archive: Archive, sid: str, version: TranscriptVersion, warn: Callable[[str], None]) -> None:
    try:
        index_session(home, archive, sid)
    except Exception as exc:  # the archive has it; the index can always be rebuilt from it
        warn(f"{sid} v{version.version} is saved but not yet searchable ({exc}); run xunlu reindex")
