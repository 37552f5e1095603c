"""What the JSON routes answer: the models their decorators name (`response_model=`, or `responses=` for a
second success status). FastAPI puts their schemas into the OpenAPI document and validates every answer
against them; tests/test_hostile_schemathesis.py checks real answers against the document.

The transcript is the contract of DESIGN.md; the rest is what api/routes/*.py build. Fields are declared in
the order the routes build their dicts, so an answer keeps its keys in the same order. Every model allows
extra keys (`Answer`): FastAPI drops from an answer whatever its model does not know, so a field that another
part adds to a record (a session's, a user's) is passed through rather than silently lost.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """Base of the answers: keys beyond the declared fields are kept, after them."""

    model_config = ConfigDict(extra="allow")


# -- transcripts (DESIGN.md) ----------------------------------------------------------------------------
class Word(Answer):
    start: float
    end: float
    text: str
    p: float = Field(description="confidence 0..1")


class Segment(Answer):
    id: int
    start: float = Field(description="seconds from the first audio sample")
    end: float
    speaker: Optional[str]
    channel: int
    text: str
    words: list[Word]


class Transcript(Answer):
    session: Optional[str]
    language: str
    model: str
    duration: float
    version: int
    segments: list[Segment]


class TranscriptVersion(Answer):
    version: int
    kind: str = Field(description="asr, edit ...")
    path: str
    sha256: str
    created_at: str
    author: str
    reason: Optional[str]
    model: Optional[str]
    parent: Optional[int] = Field(description="the version it was corrected from")


class Diff(Answer):
    session: str
    a: int
    b: int
    diff: str = Field(description="unified diff, one line per segment")


# -- sessions -------------------------------------------------------------------------------------------
class MediaFile(Answer):
    role: str = Field(description="original, playable ...")
    path: str
    sha256: str
    size: int


class SessionRecord(Answer):
    id: str
    status: str = Field(description="recording, finalising, complete or failed")
    created_at: str
    started_at: Optional[str]
    duration: Optional[float]
    case_id: Optional[str]
    room: Optional[str]
    officers: list[str]
    suspect: Optional[str]
    speakers: list[str]
    language: Optional[str]
    source_name: Optional[str]
    error: Optional[str]
    media: list[MediaFile]
    transcripts: list[TranscriptVersion]
    unit: Optional[str] = Field(description="the officers' unit (单位)")
    check_in_at: Optional[str] = Field(description="when the person arrived in the centre")
    signed_at: Optional[str] = Field(description="when the 笔录 was confirmed signed")
    night_reason: Optional[str] = Field(description="why questioning at night was needed")
    live: bool = Field(description="being recorded by this server")
    media_url: Optional[str]
    hls_url: Optional[str]
    latest_version: Optional[int]


class Marker(Answer):
    seq: int
    at: Optional[float]
    label: str
    actor: str                        # the login, e.g. web:zhang
    actor_name: str                   # the name people know them by (姓名), e.g. 张三
    created_at: str


class Rooms(Answer):
    rooms: list[str]
    devices: dict[str, Any] = Field(description="room -> its configured audio/video devices")
    cases: list[str]
    officers: list[str]
    defaults: dict[str, Any]


# -- search, audit, import ------------------------------------------------------------------------------
class SearchHit(Answer):
    session: str
    start: float = Field(description="time of the first matched word")
    end: float
    speaker: Optional[str]
    text: str
    snippet: str
    score: float
    match: str = Field(description="exact (found as written) or sound (a sound-alike: see written)")
    segment: int
    channel: int
    case: Optional[str]
    date: Optional[str]
    written: Optional[str] = Field(None, description="the matched words as transcribed, for a sound-alike hit")


class SearchAnswer(Answer):
    query: str
    took_ms: float
    hits: list[SearchHit]


class AuditEntry(Answer):
    seq: int
    at: str
    actor: str
    action: str
    target: Optional[str]
    details: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyAnswer(Answer):
    ok: bool
    summary: str
    problems: list[str]
    files: int
    audit_entries: int


class ImportJob(Answer):
    job: str
    state: Literal["queued", "running", "done", "failed"] = Field(
        description="queued (waiting for a worker, or to be tried again), running, done or failed")
    session: Optional[str] = Field(description="the new session's id, once it exists")
    status: Optional[int] = Field(description="the HTTP status a synchronous import would have answered")
    detail: Optional[str] = Field(description="why it failed")
    code: Optional[str] = Field(None, description="the failure's stable code")
    kind: str = Field("import", description="import, transcribe, reindex or warnings")
    progress: Optional[float] = Field(None, description="0..1: how much of the recording is transcribed")
    stage: Optional[str] = Field(None, description="what it is doing now, in the operator's words")
    attempts: int = Field(0, description="how many times it was taken up (a failure is tried again)")
    created_at: Optional[float] = Field(None, description="unix time")
    ended_at: Optional[float] = Field(None, description="unix time")
    target: Optional[str] = Field(None, description="the uploaded file's name")
    worker: Optional[str] = Field(None, description="the worker that runs it (none when it runs in the server)")
    result: dict[str, Any] = Field(default_factory=dict, description="what it made: the session")


class StartedImport(ImportJob):
    status_url: str = Field(description="where to poll the job")


class JobItem(Answer):
    """A background job as GET /api/jobs lists it, whichever engine runs it (this server or a worker)."""

    id: str
    kind: str = Field(description="import, transcribe, reindex or warnings")
    target: Optional[str] = Field(description="what it works on: the uploaded file's name, a session id, * (all), "
                                              "a day")
    state: Literal["queued", "running", "done", "failed"]
    progress: Optional[float] = Field(description="0..1; 0 while queued, 1 when done, null while the work cannot "
                                                  "tell")
    stage: Optional[str] = Field(description="what it is doing now, in the operator's words")
    attempts: int = Field(description="how many times it was taken up (a failure is tried again)")
    session: Optional[str] = Field(description="the session it made or works on, once known")
    created_at: Optional[float] = Field(description="unix time")
    ended_at: Optional[float] = Field(description="unix time; null until it is done or failed")
    owner: str = Field(description="who started it: web:NAME, system:serve, system:cli")
    worker: Optional[str] = Field(description="the worker that runs it (null when it runs in the server)")
    error: Optional[str] = Field(description="failed: why, for the person at the page (Accept-Language)")
    code: Optional[str] = Field(description="failed: the failure's stable code")
    detail: Optional[str] = Field(description="failed: why, in the operator's words")


class JobList(Answer):
    jobs: list[JobItem] = Field(description="newest first")
    engine: Literal["server", "queue"] = Field(description="server: jobs run in this server's process and are "
                                                           "forgotten when it restarts; queue: on workers (Redis)")
    active: int = Field(description="how many of the jobs listed are queued or running")


# -- logins and users -----------------------------------------------------------------------------------
class UserRecord(Answer):
    username: str
    role: str = Field(description="officer, supervisor or admin")
    display_name: Optional[str]
    disabled: bool
    created_at: Optional[str]
    last_login: Optional[str]
    failed_logins: int
    locked_until: Optional[float] = Field(description="unix time; null when not locked")


class NewPassword(Answer):
    user: UserRecord
    password: Optional[str] = Field(description="the generated password (shown once); null when one was given")


class TokenRecord(Answer):
    id: str = Field(description="the public id of the login (not its secret)")
    username: str
    kind: str = Field(description="cookie or bearer")
    created_at: float
    expires_at: float
    last_used: Optional[float]
    revoked_at: Optional[float]
    address: Optional[str]


class MyToken(TokenRecord):
    current: bool = Field(description="the login this request came with")


class Me(Answer):
    user: UserRecord
    permissions: dict[str, bool]
    login: str = Field(description="the id of this login (token)")
    via: str = Field(description="bearer or cookie")
    expires_at: float


class BearerLogin(Answer):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    token_type: str
    user: UserRecord
    permissions: dict[str, bool]
    login: str = Field(description="the id of this login (token)")
    expires_at: float


class CookieLogin(Answer):
    csrf_token: str = Field(description="also in the xunlu_csrf cookie: the X-CSRF-Token header of changes")
    user: UserRecord
    permissions: dict[str, bool]
    login: str = Field(description="the id of this login (token)")
    expires_at: float


class LoggedOut(Answer):
    logged_out: bool


class PasswordChanged(Answer):
    changed: bool


class Revoked(Answer):
    revoked: int = Field(description="how many logins ended")


# -- supervision warnings -------------------------------------------------------------------------------
class WarningCounts(Answer):
    red: int
    yellow: int


class StoredWarning(Answer):
    id: int
    key: str
    session: str
    rule: str
    level: str = Field(description="red or yellow")
    reason: str
    at: Optional[float] = Field(description="seconds in the recording it refers to, where there is one")
    unit: Optional[str]
    session_started: Optional[str]
    first_seen: str
    last_seen: str
    state: str = Field(description="open, closed or resolved")
    resolved_at: Optional[str]
    closed_at: Optional[str]
    closed_by: Optional[str]
    close_reason: Optional[str]
    title: str


class LiveFinding(Answer):
    session: str
    rule: str
    level: str = Field(description="red or yellow")
    reason: str
    at: Optional[float]
    key: str
    title: str
    state: str


class WarningList(Answer):
    warnings: list[StoredWarning]
    counts: WarningCounts
    units: list[str]
    rules: dict[str, str] = Field(description="rule -> its title")


class StoredSessionWarnings(Answer):
    session: str
    live: Literal[False]
    warnings: list[StoredWarning]


class LiveSessionWarnings(Answer):
    session: str
    live: Literal[True]
    checked_at: str
    warnings: list[LiveFinding]


class Signed(Answer):
    session: str
    signed_at: Optional[str]


class Pending(Answer):
    session: str
    pending: dict[str, Any] = Field(description="officer-entered values waiting for a supervisor: check_in_at, "
                                                "night_reason, signed_at (and signer)")
    proposed_by: Optional[str] = None
    proposed_at: Optional[str] = None


class SupervisionFields(Answer):
    id: str
    unit: Optional[str]
    check_in_at: Optional[str]
    night_reason: Optional[str]
    signed_at: Optional[str]
