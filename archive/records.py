"""The catalog's records as the audit chain holds them.

Every write that changes a catalog record appends, in the same transaction, an audit entry whose details carry
`"record": {KEY: {column: value, ...}}` with the values as the catalog stored them (read back after the write).
A new record carries all its columns, a change only the columns it set. Replaying the chain in order gives
each record's current state, which `xunlu verify` compares with the catalog row; the chain's entries are keyed
(archive.keys), so a row changed, added or deleted by hand cannot be made to agree with it.

Keys: `session/<id>` (every column of the sessions row but the id), `media/<id>/<role>`,
`transcript/<id>/v<N>`, `warning/<n>` (a closed warning: its closing is a supervisor's act; open and resolved
warnings are recomputed from the sessions by every scan and are not bound).
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import fields
from typing import Any, Iterable, Optional

from archive.database import Connection
from archive.types import Session

RECORD = "record"                       # the details key of a binding
LIST_COLUMNS = ("officers", "speakers", "vocabulary")  # JSON lists in the catalog, lists in the chain
WARNING_BOUND = ("key", "session_id", "rule", "state", "closed_at", "closed_by", "close_reason")
SESSION_FIELDS = tuple(f.name for f in fields(Session) if f.name not in ("id", "media", "transcripts"))
MEDIA_FIELDS = ("role", "path", "sha256", "size")
VERSION_FIELDS = ("version", "kind", "path", "sha256", "created_at", "author", "reason", "model", "parent")
VERSION_DEFAULTS = {"reason": "", "model": "", "parent": None}

Values = dict[str, Any]


def session_key(sid: str) -> str:
    return f"session/{sid}"


def media_key(sid: str, role: str) -> str:
    return f"media/{sid}/{role}"


def version_key(sid: str, version: int) -> str:
    return f"transcript/{sid}/v{version}"


def warning_key(wid: int) -> str:
    return f"warning/{wid}"


def split_key(key: str) -> tuple[str, str, str]:
    """(kind, session id or "", the rest): `media/s-1/original` -> ("media", "s-1", "original")."""
    kind, _, rest = key.partition("/")
    if kind == "warning":
        return kind, "", rest
    sid, _, sub = rest.partition("/")
    return kind, sid, sub


def _column(name: str, value: Any) -> Any:
    if name in LIST_COLUMNS and isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, list) else value
    return value


def session_values(row: Any, columns: Optional[Iterable[str]] = None) -> Values:
    wanted = set(columns) if columns is not None else None
    return {k: _column(k, row[k]) for k in row.keys() if k != "id" and (wanted is None or k in wanted)}


def media_values(row: Any) -> Values:
    return {k: row[k] for k in row.keys() if k not in ("session_id", "role")}


def version_values(row: Any) -> Values:
    return {k: row[k] for k in row.keys() if k not in ("session_id", "version")}


def warning_values(row: Any) -> Values:
    return {k: row[k] for k in WARNING_BOUND}


# -- bindings written with a change (read back inside the writing transaction) ---------------------------
def bind_session(conn: Connection, sid: str, columns: Optional[Iterable[str]] = None) -> dict[str, Values]:
    row = conn.execute("SELECT * FROM sessions WHERE id = ?", (sid,)).fetchone()
    return {session_key(sid): session_values(row, columns)} if row is not None else {}


def bind_media(conn: Connection, sid: str, role: str) -> dict[str, Values]:
    row = conn.execute("SELECT * FROM media WHERE session_id = ? AND role = ?", (sid, role)).fetchone()
    return {media_key(sid, role): media_values(row)} if row is not None else {}


def bind_version(conn: Connection, sid: str, version: int) -> dict[str, Values]:
    row = conn.execute("SELECT * FROM transcripts WHERE session_id = ? AND version = ?", (sid, version)).fetchone()
    return {version_key(sid, version): version_values(row)} if row is not None else {}


def bind_warning(conn: Connection, wid: int) -> dict[str, Values]:
    """A closed warning's closing; nothing for an open or resolved one (those are recomputed)."""
    row = conn.execute("SELECT * FROM warnings WHERE id = ?", (wid,)).fetchone()
    if row is None or row["state"] != "closed":
        return {}
    return {warning_key(wid): warning_values(row)}


# -- the whole catalog, for the baseline of an older archive and for verify -------------------------------
def catalog(conn: Connection, open_warnings: bool = False) -> dict[str, Values]:
    """Every bound record of the catalog, by key (a few bulk queries: linear in the catalog's size); with
    `open_warnings`, open and resolved warnings too (to compare with a closing the chain holds)."""
    out: dict[str, Values] = {}
    for row in conn.execute("SELECT * FROM sessions"):
        out[session_key(row["id"])] = session_values(row)
    for row in conn.execute("SELECT * FROM media"):
        out[media_key(row["session_id"], row["role"])] = media_values(row)
    for row in conn.execute("SELECT * FROM transcripts"):
        out[version_key(row["session_id"], row["version"])] = version_values(row)
    for row in conn.execute("SELECT * FROM warnings" + ("" if open_warnings else " WHERE state = 'closed'")):
        out[warning_key(row["id"])] = warning_values(row)
    return out


def session_of(key: str, values: Optional[Values]) -> str:
    """The session a record belongs to (a warning names it in its values)."""
    kind, sid, _ = split_key(key)
    if kind == "warning":
        return str((values or {}).get("session_id") or "")
    return sid


def by_session(records: dict[str, Values]) -> dict[str, dict[str, Values]]:
    grouped: dict[str, dict[str, Values]] = defaultdict(dict)
    for key, values in records.items():
        grouped[session_of(key, values)][key] = values
    return grouped


# -- the manifest: the catalog's record of one session, as archive.store.write_manifest writes it ---------
class SessionState:
    """One session's records (row, media, versions) as the chain or the catalog gives them."""

    __slots__ = ("row", "media", "versions")

    def __init__(self) -> None:
        self.row: Optional[Values] = None
        self.media: dict[str, Values] = {}
        self.versions: dict[int, Values] = {}

    def put(self, key: str, values: Values) -> None:
        kind, _sid, sub = split_key(key)
        if kind == "session":
            self.row = values
        elif kind == "media":
            self.media[sub] = values
        elif kind == "transcript" and sub[1:].isdigit():
            self.versions[int(sub[1:])] = values

    def manifest(self, sid: str) -> dict[str, Any]:
        row = self.row or {}
        out: dict[str, Any] = {"id": sid}
        for name in SESSION_FIELDS:
            value = row.get(name)
            out[name] = list(value) if name in LIST_COLUMNS and isinstance(value, (list, tuple)) else \
                ([] if name in LIST_COLUMNS and value is None else value)
        out["media"] = [{"role": role, **{k: v.get(k) for k in MEDIA_FIELDS if k != "role"}}
                        for role, v in sorted(self.media.items())]
        out["transcripts"] = [{"version": n, **{k: v.get(k, VERSION_DEFAULTS.get(k)) for k in VERSION_FIELDS
                                                if k != "version"}} for n, v in sorted(self.versions.items())]
        return out


def normal_manifest(data: Any) -> Optional[dict[str, Any]]:
    """A manifest.json read from disk in the form SessionState.manifest gives (fields an older xunlu did not
    write count as empty); None when it is not a manifest at all."""
    if not isinstance(data, dict):
        return None
    out: dict[str, Any] = {"id": data.get("id")}
    for name in SESSION_FIELDS:
        out[name] = data.get(name, [] if name in LIST_COLUMNS else None)
    try:
        out["media"] = [{k: m.get(k) for k in MEDIA_FIELDS} for m in data.get("media") or []]
        out["transcripts"] = [{k: t.get(k, VERSION_DEFAULTS.get(k)) for k in VERSION_FIELDS}
                              for t in data.get("transcripts") or []]
    except AttributeError:
        return None
    return out


def digest(form: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(form, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
