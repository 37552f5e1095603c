"""The 讯问笔录 of a session: its header from the session's metadata (第N次, 讯问人, 记录人, the person's
identity, 讯问地点, 起止时间), the rights notice as the recording has it, and who confirmed it signed. Used by
the DOCX export, the print view (`GET /api/sessions/{id}/record`) and the PDF printed from it. Its times are
written on the centre's clock ([centre] timezone), whatever the offset a session was stored with.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from archive.store import Archive
from archive.transcripts import read_version
from archive.types import Session
from asr.docx_record import RecordHeader, RightsRead, record_content
from core.config import on_clock
from core.config import zone as centre_zone
from core.errors import XunluError
from core.transcript import Transcript

log = logging.getLogger("xunlu.record")
QUESTIONERS = ("officer", "police", "民警", "讯问人")


@dataclass(frozen=True)
class Signature:
    """The 笔录's signing as the audit chain has it: confirmed (`at`, by whom, the signer named), or a time an
    officer proposed that waits for a supervisor (`pending`)."""

    at: Optional[str] = None          # when it was signed
    by: Optional[str] = None          # who confirmed it (the actor of `session.sign`)
    signer: Optional[str] = None      # the person named as having signed
    recorded_at: Optional[str] = None  # when the confirmation was entered
    pending: Optional[str] = None     # a proposed signing time, not yet confirmed
    proposed_by: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def ended_at(session: Session) -> Optional[str]:
    if not session.started_at or session.duration is None:
        return None
    start = datetime.fromisoformat(session.started_at)
    return (start + timedelta(seconds=session.duration)).isoformat(timespec="seconds")


def questioners(session: Session) -> tuple[str, ...]:
    """The channel names whose lines are 问 (the officers'); the first channel when none is named so."""
    return tuple(s for s in session.speakers if s.lower() in QUESTIONERS) \
        or (session.speakers[:1] if session.speakers else ("officer",))


def _when(session: Session) -> datetime:
    try:
        when = datetime.fromisoformat(session.started_at or session.created_at)
    except ValueError:
        return datetime.min.replace(tzinfo=datetime.now().astimezone().tzinfo)
    return when if when.tzinfo else when.astimezone()


def number_of(archive: Archive, session: Session) -> Optional[int]:
    """第N次: 1 + this person's sessions in the same case that began before this one (failed ones do not
    count); None when the case or the person is not known."""
    if not session.case_id or not (session.suspect or "").strip():
        return None
    person = session.suspect.strip().casefold()
    mine = (_when(session), session.id)
    earlier = [s for s in archive.list(case_id=session.case_id)
               if s.id != session.id and s.status != "failed" and (s.suspect or "").strip().casefold() == person
               and (_when(s), s.id) < mine]
    return len(earlier) + 1


def rights_as_read(archive: Archive, session: Session, transcript: Transcript) -> Optional[RightsRead]:
    """Where the rights notice was read and its words, by the supervision rules' phrases (the centre's
    rules.toml, else the defaults); None when the rules do not look for one."""
    from supervise.config import defaults, load_rules
    from supervise.rules import notice_hits
    from supervise.types import Seg, SessionFacts

    try:
        rules = load_rules(archive.home)
    except XunluError as exc:  # a bad rules file is the warnings page's to report; the record still prints
        log.warning("the rules file cannot be read (%s): the record looks for the rights notice by the defaults", exc)
        rules = defaults()
    if not rules.rights_notice.enabled or not rules.rights_notice.phrases:
        return None
    segments = tuple(Seg(s.start, s.end, s.channel, s.speaker, s.text) for s in transcript.segments)
    facts = SessionFacts(id=session.id, status=session.status, duration=transcript.duration,
                         officers=session.officers, speakers=session.speakers, has_transcript=True, segments=segments)
    hits = notice_hits(facts, rules)
    if not hits:
        return RightsRead(None)
    start, end = hits[0][1], max(h[2] for h in hits)
    reader = min(transcript.segments, key=lambda s: abs(s.start - start))
    said = [s.text.strip() for s in transcript.segments if s.end > start and s.start < end and s.text.strip()
            and (s.speaker, s.channel) == (reader.speaker, reader.channel)]   # the reader's words, not the reply
    return RightsRead(start, "".join(said))


def header_of(archive: Archive, session: Session, transcript: Optional[Transcript] = None) -> RecordHeader:
    zone = centre_zone(archive.home)
    return RecordHeader(case_id=session.case_id, place=session.room,
                        started_at=on_clock(session.started_at, zone),
                        ended_at=on_clock(ended_at(session), zone), officers=session.officers, person=session.suspect,
                        session_id=session.id, recorder=session.recorder, number=number_of(archive, session),
                        unit=session.unit, gender=session.suspect_gender, birth=session.suspect_birth,
                        id_number=session.suspect_id, address=session.suspect_address,
                        rights=rights_as_read(archive, session, transcript) if transcript is not None else None)


def signature(archive: Archive, sid: str) -> Signature:
    """Who confirmed the 笔录 signed and when, from the audit chain (the catalog keeps only the time)."""
    from service.supervision import pending

    found = Signature()
    for entry in archive.audit_entries(sid):
        if entry.target == sid and entry.action == "session.sign":
            found = Signature(at=entry.details.get("signed_at"), by=entry.actor,
                              signer=entry.details.get("signer") or None, recorded_at=entry.at)
    if found.at is None:
        waiting = pending(archive, sid)
        if waiting.get("signed_at"):
            found = Signature(pending=waiting["signed_at"], proposed_by=waiting.get("_by"),
                              signer=waiting.get("signer") or None)
    return found


def set_header(archive: Archive, sid: str, actor: str, values: dict[str, Optional[str]]) -> Session:
    """Complete the 笔录's header after the session was made (a live session's start form does not ask for
    记录人 or the person's identity): the fields given (None: left as they are; "" clears one), checked as an
    import checks them, each change an audit entry. Refused once the 笔录 is confirmed signed: what was
    signed does not change."""
    from archive.store import RECORD_FIELDS
    from archive.types import Conflict
    from service.importing import birth_of, gender_of

    unknown = sorted(set(values) - set(RECORD_FIELDS))
    if unknown:
        raise ValueError(f"not a header field: {unknown}")
    session = archive.get(sid)
    if session.signed_at:
        raise Conflict(f"the 笔录 of {sid} was confirmed signed at {session.signed_at}: its header cannot change")
    tidy = {"suspect_gender": gender_of, "suspect_birth": birth_of}
    changes = {}
    for name, value in values.items():
        if value is None:
            continue
        value = tidy[name](value) if name in tidy else (value.strip() or None)
        if value != getattr(session, name):
            changes[name] = value
    if changes:
        archive.update_session(sid, actor=actor, **changes)
        archive.audit(actor, "session.update", sid,
                      {k: {"from": getattr(session, k), "to": v} for k, v in changes.items()})
        archive.write_manifest(sid)
    return archive.get(sid)


def content(archive: Archive, session: Session, transcript: Transcript) -> dict[str, Any]:
    """What the print view and the PDF show: the 笔录 of this transcript, and its signing."""
    zone = centre_zone(archive.home)
    signed = {k: on_clock(v, zone) if k in ("at", "recorded_at", "pending") else v
              for k, v in signature(archive, session.id).to_dict().items()}
    return {"session": session.id, "version": transcript.version,
            **record_content(transcript, header_of(archive, session, transcript), questioners(session)),
            "signature": signed}


def record(archive: Archive, sid: str, version: Optional[int], actor: str,
           details: Optional[dict] = None) -> dict[str, Any]:
    """The 笔录 of one transcript version (the latest by default) for the print view; an `export` audit entry
    (format `print`) says who printed which version."""
    transcript = read_version(archive, sid, version)
    out = content(archive, archive.get(sid), transcript)
    archive.audit(actor, "export", sid, {"format": "print", "version": transcript.version, **(details or {})})
    return out
