"""The audit trail (全程留痕): every action, hash-chained; per session or all, oldest first, the newest `limit`.
Each entry comes as the chain holds it plus the words a page shows (service/audit_trail.py): the user's
name, the action in the request's language (Accept-Language), the target and details in words; times are
filtered on the centre's clock. `format=csv` gives the same entries as a CSV file."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from accounts import policy
from accounts.types import ADMIN, SUPERVISOR, User
from api.auth.deps import client_address, current_user, get_auth, require, require_role
from api.routes.answers import AuditEntry, VerifyAnswer
from api.routes.deps import get_archive
from api.routes.errors import ApiError, language
from archive.store import Archive
from core.config import zone
from index.query import parse_day
from service.audit_trail import AuditFilter, action_labels, readable, select, to_csv

router = APIRouter(prefix="/api", tags=["audit"])
READ_AUDIT = require(policy.can_read_audit, "read the audit trail")
CSV = {200: {"description": "the entries as JSON, or with format=csv as a CSV file",
             "content": {"text/csv": {"schema": {"type": "string"}}}}}
FORMAT = Query("json", pattern="^(json|csv)$", description="json, or csv for a file to download")


def names_of(request: Request) -> dict[str, str]:
    """login (casefolded) -> the name people know the user by (姓名, else the login)."""
    return {u.username.casefold(): u.display_name or u.username for u in get_auth(request).store.list()}


def audit_filter(session: Optional[str], action: Optional[str], actor: Optional[str], since: Optional[str],
                 until: Optional[str], limit: int) -> AuditFilter:
    start, end = parse_day(since, "since"), parse_day(until, "until", end_of_day=True)
    if start and end and start > end:
        raise ApiError(400, f"since {since} is after until {until}", "since_after_until")
    return AuditFilter(session or None, action or None, actor or None, start, end, limit)


def trail(request: Request, archive: Archive, user: User, f: AuditFilter, fmt: str, for_admin: bool = False):
    """The filtered, readable entries (or their CSV), with an `audit.read` / `audit.export` entry of its own."""
    if f.session:
        archive.get(f.session)  # 404 for an unknown session
    home = request.app.state.home
    tz, lang, names = zone(home), language(request), names_of(request)
    found = select(archive.audit_entries(f.session), f, names, tz)
    rows = [readable(e, names, lang, for_admin, tz) for e in found]
    archive.audit(user.actor, "audit.export" if fmt == "csv" else "audit.read", f.session or "*",
                  {"action": f.action, "actor": f.actor, "since": f.since and f.since.isoformat(),
                   "until": f.until and f.until.isoformat(), "entries": len(rows),
                   "address": client_address(request)})
    if fmt != "csv":
        return rows
    stamp = datetime.now(tz).strftime("%Y%m%d-%H%M")
    return Response(to_csv(rows, lang, tz), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})


@router.get("/audit", summary="Audit entries, oldest first, in words; filter by session, action, user and date; "
            "format=csv for a file", response_model=list[AuditEntry], responses=CSV)
def audit(request: Request, session: Optional[str] = None,
          action: Optional[str] = Query(None, description="an action (user.add) or a family (user, user.*)"),
          actor: Optional[str] = Query(None, description="user name (zhangsan), display name (张三) or full actor "
                                                         "(web:zhangsan)"),
          since: Optional[str] = Query(None, description="YYYY-MM-DD (on the centre's clock) or ISO 8601"),
          until: Optional[str] = Query(None, description="YYYY-MM-DD (the whole day) or ISO 8601"),
          limit: int = Query(500, ge=1, le=100000), format: str = FORMAT,
          archive: Archive = Depends(get_archive), user: User = Depends(READ_AUDIT)):
    return trail(request, archive, user, audit_filter(session, action, actor, since, until, limit), format)


@router.get("/audit/actions", summary="The actions of the audit trail in words (the request's language)",
            response_model=dict[str, str])
def actions(request: Request, _user: User = Depends(current_user)):
    return action_labels(language(request))


@router.get("/sessions/{sid}/audit", summary="The audit trail of one session, in words",
            response_model=list[AuditEntry])
def session_audit(sid: str, request: Request, limit: int = Query(500, ge=1, le=100000),
                  archive: Archive = Depends(get_archive), user: User = Depends(READ_AUDIT)):
    return trail(request, archive, user, AuditFilter(session=sid, limit=limit), "json")


@router.get("/verify/{sid}", summary="Re-hash the session's files and walk the audit chain",
            response_model=VerifyAnswer)
def verify(sid: str, request: Request, archive: Archive = Depends(get_archive),
           user: User = Depends(require_role(SUPERVISOR, ADMIN))):
    from archive.verify import verify as run

    report = run(archive, [sid])
    archive.audit(user.actor, "verify", sid, {"ok": report.ok, "problems": len(report.problems),
                                              "address": client_address(request)})
    return {"ok": report.ok, "summary": report.summary(), "problems": list(report.problems),
            "files": report.files, "audit_entries": report.audit_entries}
