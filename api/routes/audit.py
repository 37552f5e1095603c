"""The audit trail (全程留痕): every action, hash-chained; per session or all, newest last."""
from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, Query, Request

from accounts import policy
from accounts.types import ADMIN, SUPERVISOR, User
from api.auth.deps import client_address, require, require_role
from api.routes.answers import AuditEntry, VerifyAnswer
from api.routes.deps import get_archive
from archive.store import Archive
from index.query import parse_day

router = APIRouter(prefix="/api", tags=["audit"])
READ_AUDIT = require(policy.can_read_audit, "read the audit trail")


def _by_actor(actor: str, who: str) -> bool:
    """`张三` finds `web:张三`; a full actor name (`system:root`) finds itself."""
    return who == actor or who.endswith(":" + actor)


def _when(entry_at: str) -> datetime:
    return datetime.fromisoformat(entry_at).replace(tzinfo=None)


@router.get("/audit", summary="Audit entries, oldest first; filter by session, action, actor and date",
            response_model=list[AuditEntry])
def audit(request: Request, session: Optional[str] = None, action: Optional[str] = None,
          actor: Optional[str] = Query(None, description="user name (张三) or full actor (web:张三)"),
          since: Optional[str] = Query(None, description="YYYY-MM-DD or ISO 8601"),
          until: Optional[str] = Query(None, description="YYYY-MM-DD (the whole day) or ISO 8601"),
          limit: int = Query(500, ge=1, le=100000),
          archive: Archive = Depends(get_archive), user: User = Depends(READ_AUDIT)):
    start, end = parse_day(since, "since"), parse_day(until, "until", end_of_day=True)
    if session:
        archive.get(session)  # 404 for an unknown session
    found = [asdict(e) for e in archive.audit_entries(session)
             if (action is None or e.action == action) and (actor is None or _by_actor(actor, e.actor))
             and (start is None or _when(e.at) >= start) and (end is None or _when(e.at) <= end)]
    archive.audit(user.actor, "audit.read", session or "*",
                  {"action": action, "actor": actor, "since": since, "until": until, "entries": len(found[-limit:]),
                   "address": client_address(request)})
    return found[-limit:]


@router.get("/sessions/{sid}/audit", summary="The audit trail of one session", response_model=list[AuditEntry])
def session_audit(sid: str, request: Request, limit: int = Query(500, ge=1, le=100000),
                  archive: Archive = Depends(get_archive), user: User = Depends(READ_AUDIT)):
    archive.get(sid)
    found = [asdict(e) for e in archive.audit_entries(sid)][-limit:]
    archive.audit(user.actor, "audit.read", sid, {"entries": len(found), "address": client_address(request)})
    return found


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
