"""The session fields supervision needs beyond the recording: unit, check-in, night reason, and the 笔录
signature confirmation. Every change is written to the audit chain."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Optional

from archive.audit import now as stamp
from archive.store import Archive
from archive.types import ArchiveError, Session
from core.config import zone


def parse_when(value: str, what: str, zone: Optional[tzinfo] = None) -> str:
    """ISO 8601 date and time; without a zone it is on the centre's clock (`zone`, core.config.zone; else
    the machine's: a time typed into a page or a command is the centre's). Returned with the zone."""
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ArchiveError(f"{what} {value!r} is not a date and time (use e.g. 2026-11-21T08:30:00+08:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone) if zone is not None else when.astimezone()
    return when.isoformat(timespec="seconds")


def set_fields(archive: Archive, sid: str, actor: str, unit: Optional[str] = None,
               check_in_at: Optional[str] = None, night_reason: Optional[str] = None) -> Session:
    """Set the unit (单位), the person's check-in time in the centre, or the reason for night questioning."""
    changes: dict[str, str] = {}
    if unit is not None:
        if not unit.strip():
            raise ArchiveError("the unit must not be empty")
        changes["unit"] = unit.strip()
    if check_in_at is not None:
        changes["check_in_at"] = parse_when(check_in_at, "check-in time", zone(archive.home))
    if night_reason is not None:
        if not night_reason.strip():
            raise ArchiveError("the night questioning reason must not be empty")
        changes["night_reason"] = night_reason.strip()
    if not changes:
        raise ArchiveError("nothing to set: give --unit, --check-in or --night-reason")
    before = archive.get(sid)
    archive.update_session(sid, **changes)
    archive.audit(actor, "session.update", sid,
                  {k: {"from": getattr(before, k), "to": v} for k, v in changes.items()})
    archive.write_manifest(sid)
    return archive.get(sid)


def sign(archive: Archive, sid: str, actor: str, at: Optional[str] = None, signer: Optional[str] = None) -> Session:
    """Record that the 笔录 was confirmed signed (by the person questioned and the officers)."""
    session = archive.get(sid)
    if session.signed_at:
        raise ArchiveError(f"the 笔录 of {sid} was already confirmed signed at {session.signed_at}")
    if session.status != "complete":
        raise ArchiveError(f"session {sid} is {session.status}: only a finished session's 笔录 can be signed")
    when = parse_when(at, "signing time", zone(archive.home)) if at else stamp()
    archive.update_session(sid, signed_at=when)
    archive.audit(actor, "session.sign", sid, {"signed_at": when, "signer": signer or ""})
    archive.write_manifest(sid)
    return archive.get(sid)
