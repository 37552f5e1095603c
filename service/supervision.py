"""The supervision fields of a session as officers and supervisors change them. A time an officer enters
can clear a warning (a later check-in shortens the detention; a night reason clears the night rule; a
signing time clears 笔录无签名), so an officer's check-in time, night reason, or a signing time other than
now is a proposal until a supervisor confirms it; the unit, and signing now, apply at once. Times that
cannot be true (signed before the questioning ended, checked in after it started, in the future) are
refused. Proposals, confirmations and refusals are audit entries, so the chain shows who said what when.
The CLI (`xunlu sign`, `xunlu session-set`) is the operator's and applies directly."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from accounts.types import SUPERVISOR, User
from archive.store import Archive
from archive.types import ArchiveError, Session
from core.config import zone
from supervise import session_info

CONFIRMED = ("check_in_at", "night_reason", "signed_at")   # what an officer may only propose
NOW_TOLERANCE_S = 300        # "now" as an officer's clock and the server's may differ


class Refused(ArchiveError):
    """A time that cannot be true, or nothing to confirm."""

    code = "supervision_refused"


@dataclass(frozen=True)
class Outcome:
    session: Session
    pending: dict[str, Any]      # what now waits for a supervisor (empty when all was applied)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _now() -> datetime:
    return datetime.now().astimezone()


def _session_end(session: Session) -> Optional[datetime]:
    if not session.started_at:
        return None
    return _when(session.started_at) + timedelta(seconds=session.duration or 0.0)


def _check_times(session: Session, check_in_at: Optional[str], signed_at: Optional[str]) -> None:
    now = _now()
    if check_in_at is not None:
        when = _when(check_in_at)
        if when > now + timedelta(seconds=NOW_TOLERANCE_S):
            raise Refused(f"check-in time {check_in_at} is in the future")
        if session.started_at and when > _when(session.started_at):
            raise Refused(f"check-in time {check_in_at} is after the questioning started ({session.started_at})")
    if signed_at is not None:
        when = _when(signed_at)
        if when > now + timedelta(seconds=NOW_TOLERANCE_S):
            raise Refused(f"signing time {signed_at} is in the future")
        end = _session_end(session)
        if end is not None and when < end - timedelta(seconds=60):
            raise Refused(f"signing time {signed_at} is before the questioning ended ({end.isoformat(timespec='seconds')})")


def pending(archive: Archive, sid: str) -> dict[str, Any]:
    """The proposals of `sid` that no supervisor has confirmed or refused yet (the latest value of each)."""
    found: dict[str, Any] = {}
    for entry in archive.audit_entries(sid):
        if entry.target != sid:
            continue
        if entry.action == "session.propose":
            found.update({k: v for k, v in entry.details.items() if k in CONFIRMED or k == "signer"})
            found["_by"] = entry.actor
            found["_at"] = entry.at
        elif entry.action in ("session.confirm", "session.reject"):
            found = {}
    return found


def set_fields(archive: Archive, sid: str, user: Optional[User], unit: Optional[str] = None,
               check_in_at: Optional[str] = None, night_reason: Optional[str] = None) -> Outcome:
    """`user` None: the operator (CLI). A supervisor's values apply; an officer's check-in and night reason
    are proposed."""
    session = archive.get(sid)
    if check_in_at is not None:
        check_in_at = session_info.parse_when(check_in_at, "check-in time", zone(archive.home))
        _check_times(session, check_in_at, None)
    if night_reason is not None and not night_reason.strip():
        raise Refused("the night questioning reason must not be empty")
    if user is None or user.role == SUPERVISOR:
        return Outcome(session_info.set_fields(archive, sid, _actor(user), unit, check_in_at, night_reason), {})
    proposal = {k: v for k, v in (("check_in_at", check_in_at), ("night_reason", night_reason and night_reason.strip()))
                if v is not None}
    if unit is not None:
        session = session_info.set_fields(archive, sid, user.actor, unit=unit)
    elif not proposal:
        raise Refused("nothing to set: give the unit, the check-in time or the night questioning reason")
    if proposal:
        archive.audit(user.actor, "session.propose", sid, proposal)
    return Outcome(session, pending(archive, sid))


def sign(archive: Archive, sid: str, user: Optional[User], at: Optional[str] = None,
         signer: Optional[str] = None) -> Outcome:
    """Confirm the 笔录 was signed: now, or at `at` (an officer's earlier time is a proposal)."""
    session = archive.get(sid)
    when = session_info.parse_when(at, "signing time", zone(archive.home)) if at else None
    _check_times(session, None, when)
    backdated = when is not None and _when(when) < _now() - timedelta(seconds=NOW_TOLERANCE_S)
    if user is None or user.role == SUPERVISOR or not backdated:
        return Outcome(session_info.sign(archive, sid, _actor(user), when, signer), {})
    if session.signed_at:
        raise ArchiveError(f"the 笔录 of {sid} was already confirmed signed at {session.signed_at}")
    archive.audit(user.actor, "session.propose", sid, {"signed_at": when, "signer": signer or ""})
    return Outcome(session, pending(archive, sid))


def confirm(archive: Archive, sid: str, supervisor: User, accept: bool, reason: str) -> Outcome:
    """A supervisor accepts or refuses the pending proposal of `sid` (with a reason, kept in the chain)."""
    if supervisor.role != SUPERVISOR:
        raise Refused("only a supervisor confirms officer-entered times")
    if not reason.strip():
        raise Refused("give a reason for the confirmation or refusal")
    waiting = {k: v for k, v in pending(archive, sid).items() if k in CONFIRMED}
    if not waiting:
        raise Refused(f"session {sid} has nothing waiting for confirmation")
    session = archive.get(sid)
    if accept:
        _check_times(session, waiting.get("check_in_at"), waiting.get("signed_at"))
        if "check_in_at" in waiting or "night_reason" in waiting:
            session = session_info.set_fields(archive, sid, supervisor.actor,
                                              check_in_at=waiting.get("check_in_at"),
                                              night_reason=waiting.get("night_reason"))
        if "signed_at" in waiting:
            session = session_info.sign(archive, sid, supervisor.actor, waiting["signed_at"],
                                        pending(archive, sid).get("signer") or None)
    archive.audit(supervisor.actor, "session.confirm" if accept else "session.reject", sid,
                  {**waiting, "reason": reason.strip()})
    return Outcome(session, {})


def _actor(user: Optional[User]) -> str:
    if user is not None:
        return user.actor
    from archive.store import system_actor

    return system_actor()
