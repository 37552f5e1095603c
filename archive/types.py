"""The evidence archive's records. Frozen: a change is a new record, never an edit in place."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from core.errors import XunluError

STATUSES = ("recording", "finalising", "complete", "failed")


class ArchiveError(XunluError):
    """Something the user can act on: unknown session, duplicate import, disk full, bad edit, ..."""

    code = "archive_error"


class NotFound(ArchiveError):
    """No such session or transcript version."""

    code = "not_found"
    http_status = 404


class Duplicate(ArchiveError):
    """The same original media is already held by a session."""

    code = "duplicate"
    http_status = 409

    def __init__(self, message: str, session_id: str):
        super().__init__(message, params={"session": session_id})
        self.session_id = session_id


class Conflict(ArchiveError):
    """The session is not in a state for this (still recording, changed meanwhile)."""

    code = "conflict"
    http_status = 409


class DiskFull(ArchiveError):
    """No space left while writing: the write was undone and nothing was lost."""

    code = "disk_full"
    http_status = 507


@dataclass(frozen=True)
class MediaFile:
    role: str            # "original" (kept byte for byte) or "playable" (browser copy)
    path: str            # relative to the session folder
    sha256: str
    size: int


@dataclass(frozen=True)
class TranscriptVersion:
    version: int
    kind: str            # "asr" or "edit"
    path: str            # relative to the session folder
    sha256: str
    created_at: str
    author: str
    reason: str = ""
    model: str = ""
    parent: Optional[int] = None


@dataclass(frozen=True)
class Session:
    id: str
    status: str
    created_at: str
    started_at: Optional[str] = None       # wall clock with time zone, ISO 8601
    duration: Optional[float] = None
    case_id: Optional[str] = None
    room: Optional[str] = None
    officers: tuple[str, ...] = ()
    suspect: Optional[str] = None
    speakers: tuple[str, ...] = ()
    language: Optional[str] = None
    source_name: Optional[str] = None
    error: Optional[str] = None
    media: tuple[MediaFile, ...] = field(default=())
    transcripts: tuple[TranscriptVersion, ...] = field(default=())
    unit: Optional[str] = None             # the officers' unit (单位)
    check_in_at: Optional[str] = None      # when the person arrived in the centre, ISO 8601 with zone
    signed_at: Optional[str] = None        # when the 笔录 was confirmed signed
    night_reason: Optional[str] = None     # why questioning at night was needed, when it was
    # the 讯问笔录's header beyond the recording: 记录人 and the person's identity as the record prints them
    recorder: Optional[str] = None         # 记录人
    suspect_gender: Optional[str] = None   # 性别: 男, 女 or 未知
    suspect_birth: Optional[str] = None    # 出生日期, YYYY-MM-DD
    suspect_id: Optional[str] = None       # 身份证件种类及号码, as written: "居民身份证 110101199001011234"
    suspect_address: Optional[str] = None  # 现住址
    vocabulary: tuple[str, ...] = ()       # words the speech recognition was told to expect (names, places)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["officers"] = list(self.officers)
        d["speakers"] = list(self.speakers)
        d["vocabulary"] = list(self.vocabulary)
        return d

    def file(self, role: str) -> Optional[MediaFile]:
        return next((m for m in self.media if m.role == role), None)

    @property
    def latest(self) -> Optional[TranscriptVersion]:
        return max(self.transcripts, key=lambda t: t.version, default=None)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str
