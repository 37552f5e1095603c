"""Supervision warnings over HTTP: the list for supervisors (filters, red first), closing with a reason,
a session's warnings (live ones while it is recorded), badges, and the supervision fields of a session."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Optional, Union

from fastapi import APIRouter, Depends, Request
from fastapi import Path as FastPath
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from accounts import policy
from accounts.types import User
from api.auth.deps import require, session_access
from api.routes.answers import (
    LiveSessionWarnings,
    Pending,
    Signed,
    StoredSessionWarnings,
    StoredWarning,
    SupervisionFields,
    WarningCounts,
    WarningList,
)
from api.routes.deps import get_archive
from api.routes.errors import ApiError, language
from api.routes.openapi_errors import ERROR
from archive.store import Archive
from service import supervision
from service.warnings import Refresher

log = logging.getLogger("xunlu.web.warnings")
router = APIRouter(prefix="/api", tags=["warnings"])
BAD_RULES = {503: ERROR("The supervision rules file is wrong (an administrator must fix it)")}


class CloseBody(BaseModel):
    reason: str


class SignBody(BaseModel):
    signer: Optional[str] = None
    at: Optional[str] = None


class ConfirmBody(BaseModel):
    accept: bool
    reason: str = Field(..., min_length=1, max_length=500)


class FieldsBody(BaseModel):
    unit: Optional[str] = None
    check_in_at: Optional[str] = None
    night_reason: Optional[str] = None


def _rules(request: Request):
    from supervise.config import load_rules
    from supervise.types import RulesError

    try:
        return load_rules(request.app.state.home)
    except RulesError as exc:
        raise ApiError(503, f"监督规则文件有误 the rules file is wrong: {exc}", "rules_error") from exc


def _refresh(request: Request, archive: Archive, who: str, force: bool = False,
             sessions: Optional[list[str]] = None) -> None:
    """Bring the stored warnings up to date: one session, or `force`, now; otherwise in the background when
    the last full check is older than service.warnings.REFRESH_EVERY_S. A bad rules file answers 503."""
    refresher: Refresher = request.app.state.warnings_refresher
    if sessions is not None or force:
        refresher.now(archive, _rules(request), who, sessions)
    elif refresher.due():
        refresher.in_background(_rules(request), who)


def _day(value: Optional[str], what: str) -> Optional[str]:
    from supervise.store import parse_day

    try:
        return parse_day(value, what)
    except Exception as exc:
        raise ApiError(400, str(exc)) from exc


def _stored(w, request: Request) -> dict[str, Any]:
    """A stored warning (or a live finding) as the API shows it: its reason in the request's language."""
    from supervise.reasons import in_language
    from supervise.rules import TITLES

    data = w.to_dict()
    return {**data, "reason": in_language(data["reason"], language(request)), "title": TITLES.get(w.rule, w.rule)}


@router.get("/warnings", response_model=WarningList, responses=BAD_RULES)
def list_warnings(request: Request, unit: Optional[str] = None, level: Optional[str] = None,
                  rule: Optional[str] = None, since: Optional[str] = None, until: Optional[str] = None,
                  state: str = "open", session: Optional[str] = None, limit: int = 500, refresh: bool = False,
                  archive: Archive = Depends(get_archive),
                  user=Depends(require(policy.can_see_warnings, "see warnings"))):
    from supervise.rules import RULES, TITLES
    from supervise.store import STATES, Filter, WarningStore

    if level not in (None, "", "red", "yellow"):
        raise ApiError(400, f"level must be red or yellow, not {level!r}")
    if rule and rule not in RULES:
        raise ApiError(400, f"unknown rule {rule!r}")
    if state not in STATES + ("all",):
        raise ApiError(400, f"state must be one of {', '.join(STATES + ('all',))}")
    if not 1 <= limit <= 10000:
        raise ApiError(400, "limit must be 1-10000")
    _refresh(request, archive, user.actor, force=refresh)
    store = WarningStore(archive)
    found = store.list(Filter(state=state, unit=unit or None, level=level or None, rule=rule or None,
                              since=_day(since, "since"), until=_day(until, "until"), session=session or None,
                              limit=limit))
    return {"warnings": [_stored(w, request) for w in found],
            "counts": {"red": sum(w.level == "red" for w in found), "yellow": sum(w.level == "yellow" for w in found)},
            "units": store.units(), "rules": TITLES}


@router.post("/warnings/{wid}/close", response_model=StoredWarning)
def close_warning(body: CloseBody, request: Request,
                  wid: int = FastPath(..., ge=1, le=2 ** 63 - 1),  # SQLite's INTEGER
                  archive: Archive = Depends(get_archive),
                  user=Depends(require(policy.can_see_warnings, "close warnings"))):
    from supervise.store import WarningStore

    if not body.reason.strip():
        raise ApiError(400, "关闭预警需要填写理由 closing a warning needs a reason", "reason_required")
    return _stored(WarningStore(archive).close(wid, body.reason, user.actor), request)


@router.get("/warnings/badges", response_model=dict[str, WarningCounts])
def badges(sessions: Optional[str] = None, archive: Archive = Depends(get_archive),
           user=Depends(require(policy.can_list_sessions, "list sessions"))):
    """Open warnings per session ({sid: {"red": n, "yellow": m}}), for the badge on each session."""
    from supervise.store import WarningStore

    wanted = [s for s in (sessions or "").split(",") if s] or None
    counts = WarningStore(archive).counts(wanted)
    if user.role != "supervisor":  # an officer sees the badges of their own sessions only
        counts = {sid: c for sid, c in counts.items() if _took_part(archive, user, sid)}
    return counts


def _took_part(archive: Archive, user, sid: str) -> bool:
    try:
        return policy.can_view_session(user, archive.get(sid))
    except Exception:
        return False


@router.get("/sessions/{session_id}/warnings", response_model=Union[LiveSessionWarnings, StoredSessionWarnings],
            responses=BAD_RULES)
def session_warnings(session_id: str, request: Request, archive: Archive = Depends(get_archive),
                     session=Depends(session_access("view"))):
    """While the session is recorded: the live rules over what has been said so far. Afterwards: its stored
    warnings (re-checked now), open first."""
    live = request.app.state.live.get_live(session_id) if hasattr(request.app.state, "live") else None
    if live is not None:
        from supervise.facts import earlier_for
        from supervise.live import live_findings

        now = datetime.now().astimezone()
        found = live_findings(archive.get(session_id), live.snapshot(), _rules(request), now,
                              earlier_for(archive, session_id))
        return {"session": session_id, "live": True, "checked_at": now.isoformat(timespec="seconds"),
                "warnings": [{**_stored(f, request), "state": "open"} for f in found]}
    from supervise.store import Filter, WarningStore

    _refresh(request, archive, _actor(request), sessions=[session_id])
    found = WarningStore(archive).list(Filter(state="all", session=session_id, limit=10000))
    found.sort(key=lambda w: (w.state != "open", w.level != "red"))
    return {"session": session_id, "live": False, "warnings": [_stored(w, request) for w in found]}


def _actor(request: Request) -> str:
    user = getattr(request.state, "user", None)
    return getattr(user, "actor", None) or "web"


@router.post("/sessions/{session_id}/sign", response_model=Signed,
             responses={202: {"model": Pending, "description": "An earlier signing time: a supervisor confirms it"}})
def sign_record(session_id: str, body: SignBody, request: Request, archive: Archive = Depends(get_archive),
                session=Depends(session_access("stop"))):
    """Confirm the 笔录 was signed (officers who took part): now, or an earlier time a supervisor confirms."""
    done = supervision.sign(archive, session_id, request.state.user, body.at, body.signer)
    if done.pending:
        return JSONResponse(_pending(session_id, done.pending), status_code=202)
    return {"session": session_id, "signed_at": done.session.signed_at}


@router.post("/sessions/{session_id}/supervision", response_model=SupervisionFields,
             responses={202: {"model": Pending,
                              "description": "An officer's check-in time or night reason: a supervisor confirms it"}})
def set_supervision_fields(session_id: str, body: FieldsBody, request: Request,
                           archive: Archive = Depends(get_archive), session=Depends(session_access("stop"))):
    """Set the unit, the person's check-in time, or the reason for questioning at night (officers who took
    part; the times and the reason wait for a supervisor's confirmation)."""
    done = supervision.set_fields(archive, session_id, request.state.user, body.unit, body.check_in_at,
                                  body.night_reason)
    if done.pending:
        return JSONResponse(_pending(session_id, done.pending), status_code=202)
    return {k: getattr(done.session, k) for k in ("id", "unit", "check_in_at", "night_reason", "signed_at")}


@router.get("/sessions/{session_id}/supervision/pending", response_model=Pending)
def pending_fields(session_id: str, archive: Archive = Depends(get_archive), session=Depends(session_access("view"))):
    """What officers entered that waits for a supervisor's confirmation."""
    return _pending(session_id, supervision.pending(archive, session_id))


@router.post("/sessions/{session_id}/supervision/confirm", response_model=SupervisionFields)
def confirm_fields(session_id: str, body: ConfirmBody, request: Request, archive: Archive = Depends(get_archive),
                   user: User = Depends(require(policy.can_see_warnings, "confirm officer-entered times"))):
    """A supervisor accepts (applies) or refuses what an officer entered, with a reason."""
    done = supervision.confirm(archive, session_id, user, body.accept, body.reason)
    return {k: getattr(done.session, k) for k in ("id", "unit", "check_in_at", "night_reason", "signed_at")}


def _pending(session_id: str, found: dict) -> dict:
    return {"session": session_id, "pending": {k: v for k, v in found.items() if not k.startswith("_")},
            "proposed_by": found.get("_by"), "proposed_at": found.get("_at")}
