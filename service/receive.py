"""The centre's side of `xunlu push`: a finished session handed over by a room recorder on another machine.

1. `begin`: the room sends the session's record (its manifest: fields, media and transcript versions with
   their SHA-256) and the list of files. The centre answers where each file stands in its staging area
   (`<home>/staging/push/<upload>/`), or, when it already holds that recording (the same original, by its
   SHA-256), the session that holds it: a second push is a no-op.
2. `receive`: the files arrive in chunks, each at the offset the centre has (an interrupted push resumes there).
3. `commit`: every file is re-hashed against the list, the list checked against the manifest (every media
   file and transcript version, nothing else), every transcript read and checked to keep its content byte
   for byte under the centre's session id. Only then is a session made in the catalog (status "finalising"
   under its lock until complete, as an import: a crash there leaves it failed, never complete, and the push
   can be made again); its original is kept byte for byte with the same SHA-256, its transcript versions in
   order with their authors and reasons, its markers and signing. Audit: `push.begin`, `push.rejected`,
   and `session.received` on the new session (where from, the room's id, every file's SHA-256, and the
   room's own audit trail of the session as `room_trail`: each entry with its place and hash in the room's
   chain, now inside the centre's).

The staging area is outside the sessions folder: nothing there is evidence until the commit.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterator, Optional

from archive.fsutil import make_dirs, sha256_file
from archive.layout import SESSION_ID
from archive.store import Archive
from archive.types import ArchiveError, MediaFile
from core.errors import XunluError

log = logging.getLogger("xunlu.receive")
MAX_CHUNK = 16 * 1024 ** 2
MAX_FILES = 200
MAX_TRAIL = 2000     # entries of the room's audit trail of a session (service/push.py TRAIL_MAX)
STALE_S = 7 * 24 * 3600
SHA256 = re.compile(r"^[0-9a-f]{64}$")
FIELDS = ("started_at", "duration", "case_id", "room", "officers", "suspect", "speakers", "source_name",
          "language", "unit", "check_in_at", "night_reason", "recorder", "suspect_gender", "suspect_birth",
          "suspect_id", "suspect_address", "vocabulary")


class PushError(XunluError):
    """A push the centre refuses: a malformed list, a file that is not what the list says."""

    code = "push_refused"
    http_status = 400


class PushConflict(PushError):
    """A chunk at another offset than the centre has (the answer says where it has got to)."""

    code = "push_offset"
    http_status = 409


@dataclass(frozen=True)
class PushedFile:
    path: str          # relative to the session folder: original/..., media/..., transcripts/vN.json
    sha256: str
    size: int


@dataclass(frozen=True)
class Upload:
    """One push as the centre has it: its id, the manifest, the files and how much of each has arrived;
    `session` once committed (or when the centre already held the recording)."""

    id: str
    origin: str
    manifest: dict[str, Any]
    files: tuple[PushedFile, ...]
    received: tuple[int, ...]
    session: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return {"upload": self.id, "session": self.session, "state": "complete" if self.session else "receiving",
                "files": [{"path": f.path, "sha256": f.sha256, "size": f.size, "received": n}
                          for f, n in zip(self.files, self.received)]}


def staging(home: Path) -> Path:
    return Path(home) / "staging" / "push"


def _safe_path(rel: str) -> str:
    p = PurePosixPath(rel)
    if (not rel or p.is_absolute() or ".." in p.parts or len(p.parts) < 2 or rel != p.as_posix()
            or p.parts[0] not in ("original", "media", "transcripts")):
        raise PushError(f"not a session file: {rel!r}", code="push_bad_list")
    return rel


def _check_list(manifest: Any, files: Any) -> tuple[dict[str, Any], tuple[PushedFile, ...]]:
    """The manifest names every file of the session, and the list holds exactly those, with the same hashes."""
    if not isinstance(manifest, dict) or not SESSION_ID.match(str(manifest.get("id", ""))):
        raise PushError("the session's record (manifest) is missing or has no session id", code="push_bad_list")
    if manifest.get("status") != "complete":
        raise PushError(f"only a complete session can be pushed (this one is {manifest.get('status')!r})",
                        code="push_not_complete")
    if not isinstance(files, list) or not 0 < len(files) <= MAX_FILES:
        raise PushError("the list of files is missing or too long", code="push_bad_list")
    try:
        listed = tuple(PushedFile(_safe_path(str(f["path"])), str(f["sha256"]), int(f["size"])) for f in files)
        named = {str(m["path"]): (m["sha256"], int(m["size"]) if m.get("size") is not None else None)
                 for m in manifest.get("media", [])}
        named.update({str(t["path"]): (t["sha256"], None) for t in manifest.get("transcripts", [])})
        roles = [str(m["role"]) for m in manifest["media"]]
        for t in manifest.get("transcripts", []):
            int(t["version"]), str(t["kind"]), str(t["author"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PushError(f"the list of files or the manifest is malformed ({exc})", code="push_bad_list") from exc
    if any(not SHA256.match(f.sha256) or f.size < 0 for f in listed) or len({f.path for f in listed}) != len(listed):
        raise PushError("the list of files is malformed", code="push_bad_list")
    trail = manifest.get("audit", [])
    if not isinstance(trail, list) or len(trail) > MAX_TRAIL or not all(
            isinstance(e, dict) and isinstance(e.get("action"), str) and isinstance(e.get("hash"), str)
            for e in trail):
        raise PushError("the room's audit trail of the session is malformed or too long", code="push_bad_list")
    if roles.count("original") != 1 or len(set(roles)) != len(roles):
        raise PushError("the session has no original recording, or names a role twice", code="push_bad_list")
    if {f.path for f in listed} != set(named):
        raise PushError("the list of files is not the session's files as its manifest names them",
                        code="push_bad_list")
    for f in listed:
        sha, size = named[f.path]
        if f.sha256 != sha or (size is not None and size != f.size):
            raise PushError(f"{f.path}: the list and the manifest disagree on its SHA-256 or size",
                            code="push_bad_list")
    return manifest, listed


def tidy(home: Path, max_age_s: float = STALE_S) -> int:
    """Staging areas of pushes that nobody touched for a week (abandoned, or committed long ago) go."""
    import time

    gone = 0
    root = staging(home)
    for folder in root.iterdir() if root.is_dir() else ():
        try:
            newest = max((p.stat().st_mtime for p in folder.iterdir()), default=folder.stat().st_mtime)
        except OSError:
            continue
        if time.time() - newest > max_age_s:
            shutil.rmtree(folder, ignore_errors=True)
            gone += 1
    return gone


def upload_id(origin: str, manifest: dict[str, Any]) -> str:
    original = next(m["sha256"] for m in manifest["media"] if m["role"] == "original")
    return hashlib.sha256(f"{origin}\n{manifest['id']}\n{original}".encode()).hexdigest()[:32]


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    make_dirs(folder)
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _part(folder: Path, index: int) -> Path:
    return folder / f"{index:04d}.part"


def _load(home: Path, upload: str) -> Upload:
    if not re.fullmatch(r"[0-9a-f]{32}", upload or ""):
        raise PushError("no such upload", code="push_unknown")
    folder = staging(home) / upload
    try:
        d = json.loads((folder / "upload.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PushError("no such upload (it may have been committed already)", code="push_unknown") from exc
    files = tuple(PushedFile(**f) for f in d["files"])
    received = tuple(_part(folder, i).stat().st_size if _part(folder, i).exists() else 0 for i in range(len(files)))
    return Upload(upload, d["origin"], d["manifest"], files, received, d.get("session"))


def begin(home: Path, archive: Archive, actor: str, origin: str, manifest: Any, files: Any) -> Upload:
    """Open (or find again) the staging area of a push; an already held recording answers with its session."""
    manifest, listed = _check_list(manifest, files)
    origin = str(origin or "")[:200]
    uid = upload_id(origin, manifest)
    original = next(m["sha256"] for m in manifest["media"] if m["role"] == "original")
    holder = archive.holder_of(original)
    if holder is not None and archive.get(holder).status == "complete":
        archive.audit(actor, "push.repeated", holder, {"upload": uid, "origin": origin, "room_session": manifest["id"]})
        return Upload(uid, origin, manifest, listed, tuple(f.size for f in listed), holder)
    tidy(home)
    folder = staging(home) / uid
    with _locked(folder):
        state = folder / "upload.json"
        if not state.is_file():
            need = sum(f.size for f in listed)
            if shutil.disk_usage(folder).free < need + 64 * 1024 ** 2:
                raise ArchiveError("not enough disk space to receive this session", code="disk_full")
            state.write_text(json.dumps({"origin": origin, "manifest": manifest,
                                         "files": [f.__dict__ for f in listed]}, ensure_ascii=False),
                             encoding="utf-8")
            archive.audit(actor, "push.begin", f"push/{uid}", {"room_session": manifest["id"], "origin": origin,
                                                                "files": len(listed),
                                                                "bytes": sum(f.size for f in listed)})
    return _load(home, uid)


def receive(home: Path, upload: str, index: int, offset: int, chunk: Iterator[bytes]) -> int:
    """Append a chunk to file `index` at `offset` (which must be what has arrived of it); returns the bytes
    now received. A chunk past the file's listed size is refused."""
    folder = staging(home) / upload
    with _locked(folder):
        up = _load(home, upload)
        if up.session:
            raise PushConflict("this upload is committed already", code="push_committed")
        if not 0 <= index < len(up.files):
            raise PushError("no such file in this upload", code="push_unknown")
        have, size = up.received[index], up.files[index].size
        if offset != have:
            raise PushConflict(f"the centre has {have} bytes of this file, not {offset}", params={"received": have})
        with open(_part(folder, index), "ab") as f:
            for block in chunk:
                if f.tell() + len(block) > size:
                    f.truncate(have)
                    raise PushError("more bytes than the file's listed size", code="push_too_long")
                f.write(block)
            f.flush()
            os.fsync(f.fileno())
            return f.tell()


def _transcripts(folder: Path, up: Upload) -> list[tuple[dict, Any]]:
    """Each version in order, read and checked to be kept as it is: written again under the room's session
    id, it gives the bytes that arrived (nothing of it would be lost or changed under the centre's id)."""
    from asr.types import ReproducibleTranscript
    from core.transcript import Transcript

    out = []
    for version in sorted(up.manifest.get("transcripts", []), key=lambda v: int(v["version"])):
        index = next(i for i, f in enumerate(up.files) if f.path == version["path"])
        raw = _part(folder, index).read_bytes()
        try:
            data = json.loads(raw)
            plain = Transcript.from_dict(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise PushError(f"{version['path']} is not a transcript ({exc})", code="push_bad_file") from exc
        t = ReproducibleTranscript(plain.language, plain.model, plain.duration, plain.segments, plain.session,
                                   plain.version, reproduce=data.get("reproduce"))
        again = json.dumps(t.to_dict(), ensure_ascii=False, indent=1).encode("utf-8")
        if again != raw:
            raise PushError(f"{version['path']} holds more than this centre's xunlu keeps (another version of "
                            "xunlu?): update the centre first", code="push_bad_file")
        out.append((version, t))
    return out


def commit(home: Path, archive: Archive, actor: str, upload: str) -> str:
    """Check everything that arrived, then make the session in the catalog; returns its id at the centre."""
    folder = staging(home) / upload
    with _locked(folder):
        up = _load(home, upload)
        if up.session:
            return up.session
        for i, f in enumerate(up.files):
            got = sha256_file(_part(folder, i)) if up.received[i] == f.size else None
            if got != f.sha256:
                why = "incomplete" if up.received[i] != f.size else "its SHA-256 differs from the list"
                archive.audit(actor, "push.rejected", f"push/{upload}", {"room_session": up.manifest["id"],
                                                                         "file": f.path, "reason": why})
                raise PushError(f"{f.path}: {why} ({up.received[i]} of {f.size} bytes)",
                                code="push_incomplete" if up.received[i] != f.size else "push_hash_mismatch")
        holder = archive.holder_of(next(m["sha256"] for m in up.manifest["media"] if m["role"] == "original"))
        if holder is not None and archive.get(holder).status == "complete":
            sid = holder
        else:
            sid = _make_session(archive, actor, folder, up)
            from service.live_finish import reindex

            reindex(home, archive, sid)
        _done(folder, up, sid)
    return sid


def _make_session(archive: Archive, actor: str, folder: Path, up: Upload) -> str:
    from archive.transcripts import add_version

    versions = _transcripts(folder, up)
    m = up.manifest
    fields = {k: (tuple(m[k]) if isinstance(m.get(k), list) else m.get(k)) for k in FIELDS if m.get(k) is not None}
    with archive.new_session(actor, status="finalising", **fields) as session:
        sid = session.id
        try:
            paths = archive.paths(sid)
            for media in sorted(m["media"], key=lambda x: x["role"] != "original"):
                index = next(i for i, f in enumerate(up.files) if f.path == media["path"])
                dst = paths.file(media["path"])
                make_dirs(dst.parent)
                try:
                    os.link(_part(folder, index), dst)   # no second copy; the staging name goes at the end
                except OSError:
                    shutil.copyfile(_part(folder, index), dst)
                    with open(dst, "rb") as f:
                        os.fsync(f.fileno())
                kept = MediaFile(media["role"], media["path"], sha256_file(dst), dst.stat().st_size)
                if kept.sha256 != media["sha256"]:
                    raise ArchiveError(f"{media['path']} changed while being put in place")
                if media["role"] == "original":
                    holder = archive.claim_original(sid, kept)
                    if holder:
                        raise ArchiveError(f"the recording is already held by {holder}")
                else:
                    archive.add_media(sid, kept, actor)
            kept_versions = []
            for version, t in versions:
                v = add_version(archive, sid, replace(t, session=sid), version["kind"], _room_actor(up, version["author"]),
                                version.get("reason") or "", version.get("parent"))
                kept_versions.append({"version": v.version, "room_sha256": version["sha256"], "sha256": v.sha256,
                                      "created_at": version.get("created_at")})
            for marker in m.get("markers", []):
                archive.add_marker(_room_actor(up, marker.get("actor") or "?"), sid, float(marker["at"]),
                                   str(marker.get("label") or ""))
            if m.get("signed_at"):
                archive.update_session(sid, actor=actor, signed_at=m["signed_at"])
            archive.update_session(sid, actor=actor, status="complete")
            archive.audit(actor, "session.received", sid, {
                "origin": up.origin, "room_session": m["id"], "upload": up.id,
                "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in up.files],
                "versions": kept_versions, "room_trail": m.get("audit", [])})
            archive.write_manifest(sid)
        except BaseException as exc:
            reason = f"receiving {m['id']} failed: {exc}"
            with contextlib.suppress(Exception):
                archive.update_session(sid, actor=actor, status="failed", error=reason[:500])
                archive.audit(actor, "session.failed", sid, {"reason": reason[:500]})
                archive.write_manifest(sid)
            raise
    return sid


def _room_actor(up: Upload, who: Any) -> str:
    """Someone of the room, as the centre's audit trail names them: never one of the centre's own accounts
    (a room cannot put words in the mouth of a centre's user), e.g. `room-3/web:zhangsan`."""
    return f"{up.origin or 'room'}/{str(who)[:200]}"


def _done(folder: Path, up: Upload, sid: str) -> None:
    """The staging copy goes; a note of where it went stays, so that a push repeated later is answered."""
    for i in range(len(up.files)):
        _part(folder, i).unlink(missing_ok=True)
    state = json.loads((folder / "upload.json").read_text(encoding="utf-8"))
    state["session"] = sid
    tmp = folder / "upload.json.tmp"
    tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / "upload.json")


def read_chunks(stream: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    while True:
        block = stream.read(size)
        if not block:
            return
        yield block
