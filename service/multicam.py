"""A room with several cameras, as a use case: which cameras a recording takes, and what its closing keeps.

- `resolve`: the request's cameras (`xunlu record --video A --video B`), else the room's (`cameras` in
  config.toml) when the request records from the room's first camera or names no camera at all;
- `start`: the setup kept beside the live segments (`live/cameras.json`: names, roles, sources with
  passwords masked, the layout), which is all a closing needs, after a crash too;
- `close`: each other camera's segments joined with the recording's sound into its own original
  (`original/video2.mp4`, hashed, catalogued under its role), `media/views.json` (which file is which camera,
  the picture-in-picture's layout), and the picture-in-picture copy `media/pip.mp4` (role `pip`) made from the
  originals with the time, room and case burned in. The first camera is the session's `original` as always.
- `views`: what the player switches between (the composite first, then each camera), from views.json.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from archive.fsutil import atomic_write, sha256_file
from archive.layout import CAMERAS_SETUP, LIVE_ORIGINAL, PIP, VIEWS, SessionPaths, camera_original
from archive.store import Archive
from archive.types import MediaFile
from core.cameras import PipLayout, arrange
from core.errors import OptionError
from core.urls import redact

log = logging.getLogger("xunlu.multicam")
PIP_ROLE = "pip"
VIEWS_ROLE = "views"


def resolve(home: Path, req: Any) -> Any:
    """The request with its cameras: as given, else the room's when it has several and the request records
    from its first camera or names none (then also the room's microphone, speakers and delays)."""
    from capture.sources import CameraSpec
    from core.config import read

    if req.cameras:
        return replace(req, video=req.cameras[0].video)
    if not req.room:
        return req
    room = read(home).rooms.get(req.room)
    if room is None or len(room.cameras) < 2 or (req.video and req.video != room.cameras[0].video):
        return req
    specs = tuple(CameraSpec(c.name, c.video, c.rtsp_transport or room.rtsp_transport, c.video_delay)
                  for c in room.cameras)
    first = room.cameras[0]
    changes: dict[str, Any] = {"cameras": specs, "video": first.video, "pip": req.pip or room.pip}
    if not req.audio and room.audio:
        changes["audio"] = room.audio
    if not req.speakers and room.speakers:
        changes["speakers"] = tuple(s.strip() for s in room.speakers.split(",") if s.strip())
    if first.video_delay is not None and not req.video_delay:
        changes["video_delay"] = first.video_delay
    if first.rtsp_transport and not req.rtsp_transport:
        changes["rtsp_transport"] = first.rtsp_transport
    return replace(req, **changes)


def check(plan: Any, layout: Optional[PipLayout]) -> PipLayout:
    """The layout, checked against the plan's cameras (OptionError naming what is wrong)."""
    layout = layout or PipLayout()
    try:
        arrange(tuple(c.name for c in plan.cameras), layout)
    except ValueError as exc:
        raise OptionError(str(exc), code="bad_pip") from None
    return layout


def setup(plan: Any, layout: PipLayout) -> dict[str, Any]:
    """What a closing needs to know of the cameras (no password)."""
    return {"cameras": [{"role": c.role, "name": c.name, "source": redact(c.source.describe())}
                        for c in plan.cameras],
            "pip": asdict(layout)}


def start(paths: SessionPaths, plan: Any, layout: PipLayout) -> None:
    paths.live.mkdir(parents=True, exist_ok=True)
    atomic_write(paths.live / CAMERAS_SETUP, json.dumps(setup(plan, layout), ensure_ascii=False).encode("utf-8"))


def read_setup(paths: SessionPaths) -> Optional[dict[str, Any]]:
    try:
        return json.loads((paths.live / CAMERAS_SETUP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _catalogue(archive: Archive, sid: str, role: str, rel: str, actor: str, action: str,
               details: dict[str, Any]) -> MediaFile:
    path = archive.paths(sid).file(rel)
    media = MediaFile(role, rel, sha256_file(path), path.stat().st_size)
    archive.add_media(sid, media)
    archive.audit(actor, action, sid, {"path": rel, "sha256": media.sha256, "size": media.size, **details})
    return media


def close(archive: Archive, sid: str, actor: str, duration: Optional[float]) -> list[str]:
    """Keep the other cameras' originals, the views record and the picture-in-picture copy of a recording
    with several cameras (nothing when it had one). Each step is skipped when already done (a closing that a
    crash interrupted is finished by `recover`). Returns what could not be made, in words (the session is
    still closed with the rest: the first camera's original and the sound are what matter most)."""
    from capture.cameras import camera_dir
    from capture.composite import Caption, CompositeError, make_composite
    from capture.segments import JoinError, join_camera

    paths = archive.paths(sid)
    found = read_setup(paths)
    if not found or len(found.get("cameras", [])) < 2:
        return []
    session = archive.get(sid)
    problems: list[str] = []
    kept = {"original": paths.live_original} if session.file("original") else {}
    for cam in found["cameras"][1:]:
        role, rel = cam["role"], camera_original(cam["role"])
        if session.file(role) is None:
            try:
                join_camera(camera_dir(paths.live, role), paths.live, paths.live_original, paths.file(rel),
                            duration, comment=f"xunlu session {sid} camera {cam['name']}")
                _catalogue(archive, sid, role, rel, actor, "media.original",
                           {"camera": cam["name"], "source": cam["source"], "from": "live segments"})
                shutil.rmtree(camera_dir(paths.live, role), ignore_errors=True)   # copies of what it holds
            except JoinError as exc:
                problems.append(f"camera {cam['name']} ({cam['source']}): {exc}")
                log.warning("%s: camera %s has no original: %s", sid, cam["name"], exc)
                continue
        kept[role] = paths.file(rel)
    names = {cam["role"]: cam["name"] for cam in found["cameras"]}
    layout = PipLayout(**found["pip"])
    main_i, inset_i = arrange(tuple(c["name"] for c in found["cameras"]), layout)
    main, inset = found["cameras"][main_i]["role"], found["cameras"][inset_i]["role"]
    if session.file(PIP_ROLE) is None and main in kept and inset in kept:
        caption = Caption(_epoch(session), session.room, session.case_id, _timezone(archive.home))
        try:
            make_composite(kept[main], kept[inset], layout, caption, paths.file(PIP), duration)
            _catalogue(archive, sid, PIP_ROLE, PIP, actor, "media.composite",
                       {"main": names[main], "inset": names[inset], "position": layout.position,
                        "inset_size": layout.size})
        except CompositeError as exc:
            problems.append(str(exc))
            log.warning("%s: %s", sid, exc)
    if session.file(VIEWS_ROLE) is None:
        record = {"cameras": [{"role": c["role"], "name": c["name"], "source": c["source"],
                               "path": LIVE_ORIGINAL if c["role"] == "original" else camera_original(c["role"])}
                              for c in found["cameras"] if c["role"] in kept],
                  "pip": {"role": PIP_ROLE, "path": PIP, "main": names[main], "inset": names[inset],
                          "position": layout.position, "size": layout.size, "caption": ["time", "room", "case"]}
                  if archive.get(sid).file(PIP_ROLE) else None}
        atomic_write(paths.file(VIEWS), json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))
        _catalogue(archive, sid, VIEWS_ROLE, VIEWS, actor, "media.views", {"cameras": len(record["cameras"])})
    return problems


def drop_working_files(paths: SessionPaths) -> None:
    """The other cameras' segments (copies of what their originals hold) and the setup."""
    found = read_setup(paths)
    for cam in (found or {}).get("cameras", [])[1:]:
        folder = paths.live / cam["role"]
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
    (paths.live / CAMERAS_SETUP).unlink(missing_ok=True)


def _epoch(session: Any) -> float:
    when = session.started_at or session.created_at
    try:
        return datetime.fromisoformat(when).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _timezone(home: Path) -> Optional[str]:
    from core.config import ConfigError, read

    try:
        return read(home).timezone
    except ConfigError:
        return None


def views(archive: Archive, session: Any) -> list[dict[str, Any]]:
    """What the player switches between: the picture-in-picture first, then each camera (role, name, kind);
    empty for a recording with one camera."""
    chosen = session.file(VIEWS_ROLE)
    if chosen is None:
        return []
    try:
        record = json.loads(archive.paths(session.id).file(chosen.path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    if record.get("pip") and session.file(PIP_ROLE):
        out.append({"role": PIP_ROLE, "name": None, "kind": "pip"})
    out += [{"role": c["role"], "name": c["name"], "kind": "camera"} for c in record.get("cameras", [])
            if session.file(c["role"])]
    return out
