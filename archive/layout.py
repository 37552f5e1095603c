"""Where a session's files are: the one place that knows the folder layout.

    <home>/sessions/<id>/
        original/<name>          the imported file, byte for byte, read-only (a live recording: recording.mp4)
        media/playable.mp4       a browser-playable copy, only when the original is not one
        transcripts/vN.json      version 1 = ASR output, read-only like every later version
        live/                    while recording: HLS segments and playlist, the PCM tap, the transcript journal
        manifest.json            the session record with every file's SHA-256 (rewritten atomically)
        .lock                    held by the process writing the session (a dead holder releases it)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from archive.types import NotFound

SESSION_ID = re.compile(r"^s-\d{8}-\d{4,}$")
LIVE_ORIGINAL = "original/recording.mp4"     # catalog path of a live recording's joined MP4
PLAYABLE = "media/playable.mp4"              # catalog path of the browser-playable copy
PIP = "media/pip.mp4"                        # several cameras: the picture-in-picture playback copy
VIEWS = "media/views.json"                   # several cameras: which file is which camera, the pip's layout
CAMERAS_SETUP = "cameras.json"               # live/: the cameras and layout of a recording (for its closing)
TEMP_NAME = re.compile(r"^\..+\.tmp-(\d+)(\.[A-Za-z0-9]+)?$")
PENDING_NAME = re.compile(r"^\..+\.pending$")  # a file committed to the catalog, not yet renamed into place
LIVE_WORK = re.compile(r"^(seg\d+\.ts.*|index\.m3u8|tap\.s16|transcript\.jsonl|asr-state\.json|cameras\.json|ffmpeg\.log)$")  # live/: copies


def camera_original(role: str) -> str:
    """The catalog path of a room's other camera's original (role video2, video3, ...)."""
    return f"original/{role}.mp4"


def pending(path: Path) -> Path:
    """Where a file waits for its catalog row to be committed (archive.transcripts.add_version)."""
    return path.with_name(f".{path.name}.pending")


def check_id(session_id: str) -> str:
    if not SESSION_ID.match(session_id):
        raise NotFound(f"not a session id: {session_id!r} (ids look like s-20261121-0001)")
    return session_id


def sessions_dir(home: Path) -> Path:
    return Path(home) / "sessions"


@dataclass(frozen=True)
class SessionPaths:
    """The paths of one session's files. Catalog paths (MediaFile.path) are relative to `root`."""

    root: Path

    @classmethod
    def of(cls, home: Path, session_id: str) -> "SessionPaths":
        return cls(sessions_dir(home) / check_id(session_id))

    def file(self, rel: str) -> Path:
        """A catalog path (relative to the session folder) as a path on disk."""
        return self.root / rel

    @property
    def original_dir(self) -> Path:
        return self.root / "original"

    @property
    def live_original(self) -> Path:
        return self.root / LIVE_ORIGINAL

    @property
    def playable(self) -> Path:
        return self.root / PLAYABLE

    def camera_original(self, role: str) -> Path:
        """A room's other camera's original (`original/video2.mp4`): its picture with the recording's sound."""
        return self.root / camera_original(role)

    @property
    def transcripts(self) -> Path:
        return self.root / "transcripts"

    def transcript(self, version: int) -> Path:
        return self.transcripts / f"v{version}.json"

    @property
    def live(self) -> Path:
        return self.root / "live"

    @property
    def journal(self) -> Path:
        """The live transcript journal: one final segment a line, appended and fsync'd."""
        return self.live / "transcript.jsonl"

    @property
    def playlist(self) -> Path:
        """The HLS playlist of the live segments."""
        return self.live / "index.m3u8"

    @property
    def tap(self) -> Path:
        """The 16 kHz PCM tap the live transcriber reads."""
        return self.live / "tap.s16"

    @property
    def asr_state(self) -> Path:
        """The live transcription worker's checkpoint: where a restarted worker resumes."""
        return self.live / "asr-state.json"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    def temp_files(self) -> list[tuple[Path, int]]:
        """Files a write in progress holds (`.NAME.tmp-PID...`, see archive.fsutil and archive.media), with the
        id of the process that writes them."""
        found = []
        for path in self.root.rglob(".*.tmp-*"):
            match = TEMP_NAME.match(path.name)
            if match and path.is_file():
                found.append((path, int(match.group(1))))
        return found

    def has_segments(self) -> bool:
        """Whether live segments are on disk (a recording that a crash interrupted can be closed from them)."""
        return any(self.live.glob("seg*.ts*"))
