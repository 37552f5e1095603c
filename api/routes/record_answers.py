"""What the 笔录 and correction routes answer (their OpenAPI schemas; the rest are in api/routes/answers.py):
the print view's record with its signing, a version's corrected lines, and a side-by-side diff."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from api.routes.answers import Answer, Diff, SessionRecord


class Signature(Answer):
    at: Optional[str] = Field(description="when the 笔录 was signed (confirmed)")
    by: Optional[str] = Field(description="who confirmed it (the audit chain's actor)")
    signer: Optional[str] = Field(description="the person named as having signed")
    recorded_at: Optional[str] = Field(description="when the confirmation was entered")
    pending: Optional[str] = Field(description="a signing time an officer proposed, waiting for a supervisor")
    proposed_by: Optional[str]


class MediaView(Answer):
    """One picture a recording with several cameras can be played as (service/multicam.py)."""

    role: str = Field(description="the media role: pip (the picture-in-picture copy), original (the first "
                                  "camera), video2, ...")
    name: Optional[str] = Field(None, description="the camera's name; none for the picture-in-picture")
    kind: str = Field(description="pip or camera")
    url: str = Field(description="its media URL (same clock: a time in one is the same moment in all)")


class SessionDetail(SessionRecord):
    """One session (GET /api/sessions/{id}): its record, and the signing of its 笔录."""

    views: list[MediaView] = Field(default_factory=list, description="several cameras: the picture-in-picture "
                                                                     "first, then each camera; empty for one")

    recorder: Optional[str] = Field(None, description="记录人")
    suspect_gender: Optional[str] = Field(None, description="被讯问人 性别: 男, 女 or 未知")
    suspect_birth: Optional[str] = Field(None, description="出生日期, YYYY-MM-DD")
    suspect_id: Optional[str] = Field(None, description="身份证件种类及号码")
    suspect_address: Optional[str] = Field(None, description="现住址")
    vocabulary: list[str] = Field(default_factory=list, description="words the recognition was told to expect")
    signature: "Signature"


class RecordField(Answer):
    name: str
    value: str


class RecordTurn(Answer):
    label: str = Field(description="问 or 答")
    text: str
    start: float = Field(description="seconds from the first audio sample")
    clock: str = Field(description="the recording time as printed: 〔HH:MM:SS〕")


class Record(Answer):
    session: str
    version: int
    title: str = Field(description="讯问笔录（第N次）")
    number: Optional[int] = Field(description="第N次: this person's sessions in the case up to this one")
    fields: list[RecordField] = Field(description="the header lines, in print order")
    rights: Optional[str] = Field(description="the rights notice as the recording has it (null: not looked for)")
    turns: list[RecordTurn]
    closing: str = Field(description="以上笔录我已看过…")
    signatures: list[str]
    footer: str = Field(description="the signature line at the foot of every page")
    signature: Signature


class CorrectedLine(Answer):
    id: int
    start: float
    speaker: Optional[str]
    asr: str = Field(description="the text as the speech recognition wrote it")
    text: str = Field(description="the text in this version")


class Corrections(Answer):
    session: str
    version: int
    base: Optional[int] = Field(description="the ASR version this one was corrected from (null: none)")
    lines: list[CorrectedLine]


class SidePart(Answer):
    op: str = Field(description="equal, delete, insert or replace")
    a: str
    b: str


class SideRow(Answer):
    id: int
    start: float
    speaker: Optional[str]
    a: Optional[str] = Field(description="the line in version a (null: not there)")
    b: Optional[str] = Field(description="the line in version b (null: not there)")
    parts: list[SidePart] = Field(description="the two texts cut where they differ")


class SideBySide(Diff):
    rows: list[SideRow] = Field(description="the lines that differ, in time order, side by side")
