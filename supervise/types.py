"""Supervision warnings: the facts rules read, the findings they give, and the rules' settings.

Everything here is frozen. A rule is a pure function of one session's facts, its settings and the time now.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Optional

from core.errors import XunluError

LEVELS = ("red", "yellow")


class RulesError(XunluError, ValueError):
    """The rules file cannot be used; the message names the file and line."""

    code = "rules_error"


# -- findings -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """One defect found in one session (a warning before it is stored)."""

    session: str
    rule: str
    level: str                      # "red" or "yellow"
    reason: str                     # for a person to read (Chinese)
    at: Optional[float] = None      # seconds in the recording it refers to, where there is one
    detail: str = ""                # tells apart several findings of one rule in one session

    @property
    def key(self) -> str:
        return f"{self.session}/{self.rule}" + (f"/{self.detail}" if self.detail else "")

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session, "rule": self.rule, "level": self.level, "reason": self.reason,
                "at": None if self.at is None else round(self.at, 2), "key": self.key}


# -- facts --------------------------------------------------------------------------------------------
class Seg(NamedTuple):
    """A transcript segment reduced to what the rules read (no word times). A named tuple: 10,000 sessions
    hold millions of them, and a tuple is made several times faster than a frozen dataclass."""

    start: float
    end: float
    channel: int
    speaker: Optional[str]
    text: str


@dataclass(frozen=True)
class MediaGap:
    """A place where the recording is not continuous (from the live HLS playlist, or a `record.gap` entry of
    the audit chain: a network source that dropped)."""

    at: float                       # seconds in the recording
    kind: str                       # "discontinuity", "missing", "sequence", "source_lost" (a camera away)
    detail: str = ""


@dataclass(frozen=True)
class Visit:
    """An earlier session of the same person (same 被讯问人 and check-in)."""

    session: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class SessionFacts:
    id: str
    status: str
    start: Optional[datetime] = None        # wall clock, aware
    duration: Optional[float] = None        # seconds of media (elapsed so far when live)
    case_id: Optional[str] = None
    room: Optional[str] = None
    unit: Optional[str] = None
    suspect: Optional[str] = None
    officers: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()
    check_in_at: Optional[datetime] = None
    signed_at: Optional[datetime] = None
    night_reason: Optional[str] = None
    has_media: bool = False
    media_files_missing: tuple[str, ...] = ()
    media_path: Optional[str] = None        # the original (else playable) media, relative to the session folder
    has_transcript: bool = False
    transcript_duration: Optional[float] = None
    segments: tuple[Seg, ...] = ()
    gaps: tuple[MediaGap, ...] = ()
    earlier: tuple[Visit, ...] = ()         # the same person's sessions before this one, oldest first
    live: bool = False

    @property
    def end(self) -> Optional[datetime]:
        if self.start is None:
            return None
        from datetime import timedelta

        return self.start + timedelta(seconds=self.duration or 0.0)


# -- settings -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Speakers:
    officer_labels: tuple[str, ...] = ("officer", "讯问人", "民警", "警官", "侦查员", "记录人")
    suspect_labels: tuple[str, ...] = ("suspect", "被讯问人", "嫌疑人", "犯罪嫌疑人", "被询问人")


@dataclass(frozen=True)
class RightsNotice:
    enabled: bool = True
    level: str = "red"
    within_minutes: float = 10.0
    phrases: tuple[str, ...] = ()
    min_phrases: int = 2
    similarity: float = 0.7


@dataclass(frozen=True)
class RightsUnderstood:
    enabled: bool = True
    level: str = "yellow"
    answers: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()
    within_seconds: float = 180.0
    similarity: float = 0.7


@dataclass(frozen=True)
class TooFewOfficers:
    enabled: bool = True
    level: str = "red"
    min_officers: int = 2


@dataclass(frozen=True)
class OfficerSilent:
    enabled: bool = True
    level: str = "yellow"
    min_duration_s: float = 60.0


@dataclass(frozen=True)
class ContinuousQuestioning:
    enabled: bool = True
    level: str = "red"
    max_hours: float = 12.0
    rest_minutes: float = 60.0


@dataclass(frozen=True)
class NightQuestioning:
    enabled: bool = True
    level: str = "yellow"
    night_start: str = "22:00"
    night_end: str = "06:00"
    min_minutes: float = 5.0


@dataclass(frozen=True)
class Detention:
    enabled: bool = True
    level: str = "red"
    max_hours: float = 24.0


@dataclass(frozen=True)
class RoomNotApproved:
    enabled: bool = True
    level: str = "red"
    approved: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnsignedRecord:
    enabled: bool = True
    level: str = "red"
    within_hours: float = 24.0


@dataclass(frozen=True)
class RecordingGap:
    enabled: bool = True
    level: str = "red"


@dataclass(frozen=True)
class RecordingRestart:
    enabled: bool = True
    level: str = "red"
    within_minutes: float = 15.0


@dataclass(frozen=True)
class TranscriptPastMedia:
    enabled: bool = True
    level: str = "red"
    tolerance_s: float = 5.0


@dataclass(frozen=True)
class MediaWithoutTranscript:
    enabled: bool = True
    level: str = "red"
    tolerance_s: float = 30.0


@dataclass(frozen=True)
class Summary:
    hour: int = 7
    folder: str = "summaries"
    hook: str = ""
    hook_timeout_s: float = 60.0


@dataclass(frozen=True)
class RuleConfig:
    """All rules' settings: the shipped defaults with the site's rules.toml on top."""

    speakers: Speakers = field(default_factory=Speakers)
    rights_notice: RightsNotice = field(default_factory=RightsNotice)
    rights_understood: RightsUnderstood = field(default_factory=RightsUnderstood)
    too_few_officers: TooFewOfficers = field(default_factory=TooFewOfficers)
    officer_silent: OfficerSilent = field(default_factory=OfficerSilent)
    continuous_questioning: ContinuousQuestioning = field(default_factory=ContinuousQuestioning)
    night_questioning: NightQuestioning = field(default_factory=NightQuestioning)
    detention: Detention = field(default_factory=Detention)
    room_not_approved: RoomNotApproved = field(default_factory=RoomNotApproved)
    unsigned_record: UnsignedRecord = field(default_factory=UnsignedRecord)
    recording_gap: RecordingGap = field(default_factory=RecordingGap)
    recording_restart: RecordingRestart = field(default_factory=RecordingRestart)
    transcript_past_media: TranscriptPastMedia = field(default_factory=TranscriptPastMedia)
    media_without_transcript: MediaWithoutTranscript = field(default_factory=MediaWithoutTranscript)
    summary: Summary = field(default_factory=Summary)
    source: str = "<defaults>"
    timezone: str = "Asia/Shanghai"   # the centre's clock (config.toml [centre], core.config): night, days

    def zone(self):
        """The centre's time zone as a tzinfo."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)
