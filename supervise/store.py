"""Warning state in the catalog (`warnings` table): open, resolved (the defect went away, e.g. the 笔录 was
signed), or closed by a person with a reason. Nothing is ever deleted; closing is written to the audit chain."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Iterable, Optional

from archive.audit import now as stamp
from archive.store import Archive
from archive.types import ArchiveError, NotFound
from supervise.types import Finding

log = logging.getLogger("xunlu.supervise.store")
STATES = ("open", "closed", "resolved")


@dataclass(frozen=True)
class StoredWarning:
    id: int
    key: str
    session: str
    rule: str
    level: str
    reason: str
    at: Optional[float]
    unit: Optional[str]
    session_started: Optional[str]
    first_seen: str
    last_seen: str
    state: str
    resolved_at: Optional[str] = None
    closed_at: Optional[str] = None
    closed_by: Optional[str] = None
    close_reason: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SessionInfo:
    """What the warnings list shows and filters by, besides the finding itself."""

    unit: Optional[str]
    started: Optional[str]


@dataclass(frozen=True)
class SyncReport:
    new: int
    reopened: int
    resolved: int
    open_total: int


@dataclass(frozen=True)
class Filter:
    state: str = "open"                 # open, closed, resolved or all
    unit: Optional[str] = None
    level: Optional[str] = None
    rule: Optional[str] = None
    since: Optional[str] = None         # session date, YYYY-MM-DD (inclusive)
    until: Optional[str] = None         # session date, YYYY-MM-DD (inclusive)
    session: Optional[str] = None
    limit: int = 1000


def _row(r) -> StoredWarning:
    return StoredWarning(**{k: r[k] for k in r.keys() if k != "session_id"}, session=r["session_id"])


class WarningStore:
    def __init__(self, archive: Archive):
        self.archive = archive
        self.conn = archive.conn

    def sync(self, findings: Iterable[Finding], info: dict[str, SessionInfo],
             evaluated: Optional[Iterable[str]] = None) -> SyncReport:
        """Make the table match this evaluation of the sessions in `evaluated` (default: all of `info`):
        new findings are opened, resolved ones that came back are opened again, open ones no longer found
        are marked resolved. Closed warnings stay closed. One transaction."""
        when = stamp()
        scope = set(info if evaluated is None else evaluated)
        found = {f.key: f for f in findings}
        with self.conn.write():
            existing = {r["key"]: (r["id"], r["session_id"], r["state"]) for r in
                        self.conn.execute("SELECT id, key, session_id, state FROM warnings")}
            inserts, updates, reopen, resolve = [], [], [], []
            for key, f in found.items():
                meta = info.get(f.session, SessionInfo(None, None))
                if key not in existing:
                    inserts.append((key, f.session, f.rule, f.level, f.reason, f.at, meta.unit, meta.started,
                                    when, when))
                    continue
                wid, _sid, state = existing[key]
                updates.append((f.level, f.reason, f.at, meta.unit, meta.started, when, wid))
                if state == "resolved":
                    reopen.append((wid,))
            for key, (wid, sid, state) in existing.items():
                if state == "open" and sid in scope and key not in found:
                    resolve.append((when, wid))
            self.conn.executemany(
                "INSERT INTO warnings (key, session_id, rule, level, reason, at, unit, session_started, first_seen,"
                " last_seen, state) VALUES (?,?,?,?,?,?,?,?,?,?,'open')", inserts)
            self.conn.executemany("UPDATE warnings SET level = ?, reason = ?, at = ?, unit = ?, session_started = ?,"
                                  " last_seen = ? WHERE id = ?", updates)
            self.conn.executemany("UPDATE warnings SET state = 'open', resolved_at = NULL WHERE id = ?", reopen)
            self.conn.executemany("UPDATE warnings SET state = 'resolved', resolved_at = ? WHERE id = ?", resolve)
            open_total = self.conn.execute("SELECT COUNT(*) FROM warnings WHERE state = 'open'").fetchone()[0]
        new, reopened, resolved = len(inserts), len(reopen), len(resolve)
        return SyncReport(new, reopened, resolved, open_total)

    def get(self, wid: int) -> StoredWarning:
        row = self.conn.execute("SELECT * FROM warnings WHERE id = ?", (wid,)).fetchone()
        if row is None:
            raise NotFound(f"no warning {wid}")
        return _row(row)

    def list(self, flt: Filter = Filter()) -> list[StoredWarning]:
        query, args = "SELECT * FROM warnings WHERE 1=1", []
        if flt.state != "all":
            if flt.state not in STATES:
                raise ArchiveError(f"unknown state {flt.state!r}: use open, closed, resolved or all")
            query += " AND state = ?"
            args.append(flt.state)
        for column, value in (("unit", flt.unit), ("level", flt.level), ("rule", flt.rule),
                              ("session_id", flt.session)):
            if value:
                query += f" AND {column} = ?"
                args.append(value)
        if flt.since:
            query += " AND substr(session_started, 1, 10) >= ?"
            args.append(flt.since)
        if flt.until:
            query += " AND substr(session_started, 1, 10) <= ?"
            args.append(flt.until)
        query += (" ORDER BY CASE level WHEN 'red' THEN 0 ELSE 1 END, session_started DESC, session_id DESC,"
                  " COALESCE(at, -1), id LIMIT ?")
        args.append(max(1, int(flt.limit)))
        return [_row(r) for r in self.conn.execute(query, args)]

    def counts(self, sessions: Optional[Iterable[str]] = None) -> dict[str, dict[str, int]]:
        """Open warnings per session and level: the badge on each session."""
        out: dict[str, dict[str, int]] = {}
        wanted = set(sessions) if sessions is not None else None
        for r in self.conn.execute("SELECT session_id, level, COUNT(*) AS n FROM warnings WHERE state = 'open' "
                                   "GROUP BY session_id, level"):
            if wanted is None or r["session_id"] in wanted:
                out.setdefault(r["session_id"], {"red": 0, "yellow": 0})[r["level"]] = r["n"]
        return out

    def units(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT unit FROM warnings WHERE unit IS NOT NULL "
                                                "ORDER BY unit")]

    def close(self, wid: int, reason: str, actor: str) -> StoredWarning:
        """Close with a reason; audited. The warning stays in the table (and in every list with state=all)."""
        reason = (reason or "").strip()
        if not reason:
            raise ArchiveError("closing a warning needs a reason (--reason)")
        if not (actor or "").strip():
            raise ArchiveError("closing a warning needs the name of who closes it")
        when = stamp()
        with self.archive.ledger.transaction():  # the closing and its audit entry: both or neither
            row = self.conn.execute("SELECT * FROM warnings WHERE id = ?", (wid,)).fetchone()
            if row is None:
                raise NotFound(f"no warning {wid}")
            if row["state"] == "closed":
                raise ArchiveError(f"warning {wid} was already closed by {row['closed_by']} at {row['closed_at']}: "
                                   f"{row['close_reason']}")
            self.conn.execute("UPDATE warnings SET state = 'closed', closed_at = ?, closed_by = ?, close_reason = ?"
                              " WHERE id = ?", (when, actor, reason, wid))
            warning = self.get(wid)
            self.archive.audit(actor, "warning.close", f"{warning.session}/warning/{wid}",
                               {"rule": warning.rule, "level": warning.level, "reason": reason,
                                "warning": warning.reason, "was": row["state"]})
        log.info("warning %d (%s %s) closed by %s", wid, warning.session, warning.rule, actor)
        return warning


def parse_day(value: Optional[str], what: str = "--since") -> Optional[str]:
    """YYYY-MM-DD (or a full ISO date-time, of which the date counts) -> YYYY-MM-DD."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise ArchiveError(f"{what} {value!r} is not a date (use YYYY-MM-DD)") from None
