"""What the main routes answer, as schemas in the OpenAPI document (documentation only: the routes build their
JSON themselves; tests/test_hostile_schemathesis.py checks every real answer against these).

The transcript is the contract of DESIGN.md; sessions, versions, hits, markers, audit entries and verify
reports are what api/routes/*.py return. Extra fields are allowed (other parts add theirs to sessions).
"""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field


class Word(BaseModel):
    start: float
    end: float
    text: str
    p: float = Field(description="confidence 0..1")


class Segment(BaseModel):
    id: int
    start: float = Field(description="seconds from the first audio sample")
    end: float
    speaker: Optional[str]
    channel: int
    text: str
    words: list[Word]


class Transcript(BaseModel):
    session: Optional[str]
    language: str
    model: str
    duration: float
    version: int
    segments: list[Segment]


class MediaFile(BaseModel):
    role: str = Field(description="original, playable ...")
    path: str
    sha256: str
    size: int


class TranscriptVersion(BaseModel):
    version: int
    kind: str = Field(description="asr, edit ...")
    path: str
    sha256: str
    created_at: str
    author: str
    reason: Optional[str] = None
    model: Optional[str] = None
    parent: Optional[int] = None


class SessionRecord(BaseModel):
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
    live: bool = Field(description="being recorded by this server")
    media_url: Optional[str]
    hls_url: Optional[str]
    latest_version: Optional[int]


class SearchHit(BaseModel):
    session: str
    start: float = Field(description="time of the first matched word")
    end: float
    speaker: Optional[str]
    text: str
    snippet: str
    score: float
    segment: int
    channel: int
    case: Optional[str]
    date: Optional[str]


class SearchAnswer(BaseModel):
    query: str
    took_ms: float
    hits: list[SearchHit]


class Marker(BaseModel):
    seq: int
    at: Optional[float]
    label: str
    actor: str
    created_at: str


class AuditEntry(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    target: Optional[str]
    details: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyAnswer(BaseModel):
    ok: bool
    summary: str
    problems: list[str]
    files: int
    audit_entries: int


class Diff(BaseModel):
    session: str
    a: int
    b: int
    diff: str = Field(description="unified diff, one line per segment")


class Rooms(BaseModel):
    rooms: list[str]
    devices: dict[str, Any] = Field(description="room -> its configured audio/video devices")
    cases: list[str]
    officers: list[str]
    defaults: dict[str, Any]


class UserRecord(BaseModel):
    username: str
    role: str = Field(description="officer, supervisor or admin")
    display_name: Optional[str]
    disabled: bool


class Me(BaseModel):
    user: UserRecord
    permissions: dict[str, bool]
    login: str = Field(description="the id of this login (token)")
    via: str = Field(description="bearer or cookie")
    expires_at: float


# "method path" -> (success status, the type of its JSON body)
ANSWERS: dict[str, tuple[str, Any]] = {
    "get /api/sessions": ("200", list[SessionRecord]),
    "post /api/sessions": ("201", SessionRecord),
    "get /api/sessions/{sid}": ("200", SessionRecord),
    "post /api/sessions/{sid}/stop": ("200", SessionRecord),
    "post /api/sessions/{sid}/markers": ("201", Marker),
    "get /api/sessions/{sid}/markers": ("200", list[Marker]),
    "get /api/sessions/{sid}/transcript": ("200", Transcript),
    "patch /api/sessions/{sid}/transcript": ("201", TranscriptVersion),
    "get /api/sessions/{sid}/transcript/versions": ("200", list[TranscriptVersion]),
    "get /api/sessions/{sid}/transcript/diff": ("200", Diff),
    "get /api/search": ("200", SearchAnswer),
    "post /api/import": ("201", SessionRecord),
    "get /api/audit": ("200", list[AuditEntry]),
    "get /api/sessions/{sid}/audit": ("200", list[AuditEntry]),
    "get /api/verify/{sid}": ("200", VerifyAnswer),
    "get /api/rooms": ("200", Rooms),
    "get /api/auth/me": ("200", Me),
}


def add_answers(spec: dict[str, Any]) -> None:
    """Put the schemas of ANSWERS into `spec` (components and each operation's success answer); a key that
    names no operation is an error, so a renamed route cannot leave its schema behind unnoticed."""
    from pydantic import TypeAdapter

    components = spec.setdefault("components", {}).setdefault("schemas", {})
    paths = spec.get("paths", {})
    for key, (status, kind) in ANSWERS.items():
        method, path = key.split(" ", 1)
        op = paths.get(path, {}).get(method)
        if op is None:
            raise KeyError(f"openapi_models.ANSWERS names {key!r}, which the app does not have")
        schema = TypeAdapter(kind).json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            components[kind.__name__] = schema
            schema = {"$ref": f"#/components/schemas/{kind.__name__}"}
        op.setdefault("responses", {}).setdefault(status, {"description": "Successful Response"})["content"] = \
            {"application/json": {"schema": schema}}
    _add_files(paths)


def _add_files(paths: dict[str, Any]) -> None:
    """Media, live files and exports are not JSON: their success answers name the types really sent."""
    from api.routes.exports import MEDIA_TYPES
    from api.routes.media import TYPES

    binary = {"schema": {"type": "string", "format": "binary"}}
    media = {t: binary for t in sorted(set(TYPES.values()) | {"application/octet-stream"})}
    exports = {t.split(";")[0]: binary for t in MEDIA_TYPES.values()}
    exports["application/json"] = {"schema": {"$ref": "#/components/schemas/Transcript"}}
    ranged = dict(media, **{"multipart/byteranges": binary})
    range_headers = [{"name": "Range", "in": "header", "required": False, "schema": {"type": "string"},
                      "description": "bytes=first-last[, ...] (RFC 9110): 206, or 416 when none can be served"},
                     {"name": "If-Range", "in": "header", "required": False, "schema": {"type": "string"},
                      "description": "the ETag or Last-Modified seen before: the range only if unchanged"}]
    for op in paths.get("/api/sessions/{sid}/media", {}).values():
        op.setdefault("parameters", []).extend(range_headers)
    upload = paths.get("/api/import", {}).get("post")
    if upload is not None:  # the route streams the body itself, so FastAPI cannot see it
        upload["requestBody"] = {"required": True, "description": "the recording's bytes, as they are",
                                 "content": {"application/octet-stream": binary}}
    for path, types, codes in (("/api/sessions/{sid}/media", media, ("200",)),
                               ("/api/sessions/{sid}/media", ranged, ("206",)),
                               ("/api/sessions/{sid}/live/{name}", media, ("200",)),
                               ("/api/sessions/{sid}/export", exports, ("200",))):
        for method, op in paths.get(path, {}).items():
            for code in codes:
                answer = op.setdefault("responses", {}).setdefault(code, {"description": "Successful Response"})
                if method == "head":
                    answer.pop("content", None)
                else:
                    answer["content"] = dict(types)
