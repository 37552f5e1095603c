"""`xunlu push SESSION --to URL`: a room recorder hands a finished session to the centre's server.

The session is checked here first (`verify`: catalog, files and audit chain), then sent as the centre's API
takes it (api/routes/push.py, service/receive.py): its record and the list of its files with their SHA-256,
each file in chunks from where the centre has got to (so a push cut off by a network fault or Ctrl-C goes on
where it stopped when run again), then the commit, at which the centre re-hashes everything and only then
adds the session to its catalog. A session the centre already holds is answered at once (a repeated push
changes nothing). Each push that completes is in this archive's audit trail (`session.pushed`: where to,
the centre's session id and every file's SHA-256), as it is in the centre's (`session.received`, which also
holds the room's own trail of the session: `room_trail`).
"""
from __future__ import annotations

import json
import logging
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from archive.store import Archive
from core.errors import XunluError
from core.urls import redact

log = logging.getLogger("xunlu.push")
CHUNK = 4 * 1024 ** 2


class PushFailed(XunluError):
    """The centre could not be reached or refused the session."""

    code = "push_refused"
    exit_code = 1


@dataclass(frozen=True)
class PushOptions:
    url: str                                   # the centre's server, e.g. https://centre.example:8000
    token: str                                 # a login token of an account that may import there
    origin: str = field(default_factory=socket.gethostname)
    chunk_bytes: int = CHUNK
    timeout: float = 60.0
    cafile: Optional[str] = None               # the centre's CA certificate (a site's own PKI)


@dataclass(frozen=True)
class PushResult:
    session: str                               # the id here
    centre_session: str                        # the id at the centre
    sent: int                                  # bytes sent by this run
    had: int                                   # bytes the centre had before this run (a resumed push)
    already: bool                              # the centre held the session already


class Centre:
    """The centre's push API over HTTP(S) with a bearer token (the standard library's urllib)."""

    def __init__(self, options: PushOptions):
        self.base = options.url.rstrip("/")
        self.options = options
        self._ssl = ssl.create_default_context(cafile=options.cafile) if options.cafile else None

    def call(self, method: str, path: str, body: Optional[bytes] = None, content_type: str = "application/json",
             auth: bool = True) -> dict[str, Any]:
        headers = {"Content-Type": content_type, "Accept": "application/json", "Accept-Language": "en"}
        if auth:
            headers["Authorization"] = f"Bearer {self.options.token}"
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.options.timeout, context=self._ssl) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read() or b"{}")
            except ValueError:
                answer = {}
            raise PushFailed(f"the centre refused ({exc.code}): {answer.get('detail') or exc.reason}",
                             code=answer.get("code") or "push_refused") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PushFailed(f"cannot reach the centre at {redact(self.base)}: {reason}; run the same command "
                             "again to go on from where it stopped", code="push_unreachable") from None

    def json(self, method: str, path: str, data: Any, auth: bool = True) -> dict[str, Any]:
        return self.call(method, path, json.dumps(data, ensure_ascii=False).encode("utf-8"), auth=auth)


def login(url: str, username: str, password: str, cafile: Optional[str] = None) -> str:
    """A bearer token from the centre's login."""
    centre = Centre(PushOptions(url=url, token="", cafile=cafile))
    return str(centre.json("POST", "/api/auth/login", {"username": username, "password": password},
                           auth=False)["token"])


def pending(archive: Archive, url: str) -> list[str]:
    """Complete sessions not yet pushed to this centre (no `session.pushed` to it in this archive's audit
    trail): what `xunlu push --pending` sends, e.g. from a timer after each interview."""
    to = redact(url.rstrip("/"))
    done = {e.target for e in archive.audit_entries()
            if e.action == "session.pushed" and str(e.details.get("to", "")).rstrip("/") == to}
    return [s.id for s in archive.list(status="complete") if s.id not in done]


def _files(archive: Archive, sid: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    session = archive.get(sid)
    if session.status != "complete":
        raise PushFailed(f"session {sid} is {session.status}: only a complete session can be pushed",
                         code="push_not_complete")
    manifest = session.to_dict()
    manifest["markers"] = [{"at": e.details.get("at"), "label": e.details.get("label", ""), "actor": e.actor}
                           for e in archive.markers(sid)]
    manifest["audit"] = room_trail(archive, sid)
    paths = archive.paths(sid)
    files = [{"path": m.path, "sha256": m.sha256, "size": m.size} for m in session.media]
    files += [{"path": t.path, "sha256": t.sha256, "size": paths.file(t.path).stat().st_size}
              for t in session.transcripts]
    return manifest, files


TRAIL_MAX = 2000   # entries of the room's trail sent with a session (the centre keeps at most as many)


def room_trail(archive: Archive, sid: str) -> list[dict[str, Any]]:
    """The room's audit trail of the session (who recorded, marked, corrected, signed, read it there, each
    entry with its place and hash in the room's chain), its pushes left out: it travels with the session so
    that the centre's own chain holds what happened to the recording before it arrived. The first TRAIL_MAX
    entries and the last one, when there are more."""
    entries = [e for e in archive.audit_entries(sid) if e.action != "session.pushed"]
    if len(entries) > TRAIL_MAX:
        entries = entries[: TRAIL_MAX - 1] + entries[-1:]
    return [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
             "details": e.details, "hash": e.hash}
            for e in entries]


def _check_here(archive: Archive, sid: str) -> None:
    from archive.verify import verify

    report = verify(archive, [sid])
    if not report.ok:
        raise PushFailed(f"session {sid} does not verify here, so it is not sent: {'; '.join(report.problems)}",
                         code="push_refused")


def push(archive: Archive, sid: str, options: PushOptions, actor: str,
         progress: Callable[[int, int], None] = lambda _done, _total: None) -> PushResult:
    """Send session `sid` to the centre (see the module's doc); `progress(bytes the centre has, total)`."""
    _check_here(archive, sid)
    manifest, files = _files(archive, sid)
    centre = Centre(options)
    begin = {"origin": options.origin, "manifest": manifest, "files": files}
    state = centre.json("POST", "/api/push", begin)
    total = sum(f["size"] for f in files)
    had = sum(int(f["received"]) for f in state["files"])
    sent = 0
    already = state.get("session") is not None
    if not already:
        upload, folder = state["upload"], archive.folder(sid)
        for index, f in enumerate(files):
            offset = int(state["files"][index]["received"])
            path = Path(folder / f["path"])
            with open(path, "rb") as src:
                while offset < f["size"]:
                    src.seek(offset)
                    block = src.read(min(options.chunk_bytes, f["size"] - offset))
                    try:
                        answer = centre.call("PUT", f"/api/push/{upload}/files/{index}?offset={offset}", block,
                                             "application/octet-stream")
                    except PushFailed as exc:
                        if exc.code != "push_offset":
                            raise
                        answer = {"received": centre.json("POST", "/api/push", begin)["files"][index]["received"]}
                    sent += max(0, int(answer["received"]) - offset)
                    offset = int(answer["received"])
                    progress(had + sent, total)
        state = centre.call("POST", f"/api/push/{upload}/commit")
    details = {"to": redact(options.url), "centre_session": state["session"], "origin": options.origin,
               "already": already,
               "files": [{"path": f["path"], "sha256": f["sha256"], "size": f["size"]} for f in files],
               "sent": sent, "resumed_from": had if not already else None}
    archive.audit(actor, "session.pushed", sid, details)
    log.info("%s pushed to %s as %s (%d bytes sent)", sid, redact(options.url), state["session"], sent)
    return PushResult(sid, state["session"], sent, had, already)
