"""Browser-playable copies: MP4 with H.264 video and AAC audio, `moov` before `mdat` (fast start)."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from archive.fsutil import READ_ONLY, make_dirs
from archive.types import ArchiveError, DiskFull
from core.media import av_options, ffmpeg_input_args
from core.proc import die_with_parent


@dataclass(frozen=True)
class Streams:
    container: str
    video: Optional[str]
    audio: Optional[str]
    duration: float
    audio_channels: int = 0     # of the first audio stream; 0 when there is none


def streams(path: Path) -> Streams:
    import av

    try:
        with av.open(str(path), metadata_errors="ignore", options=av_options()) as c:
            video = c.streams.video[0].codec_context.name if c.streams.video else None
            audio = c.streams.audio[0].codec_context.name if c.streams.audio else None
            duration = (c.duration or 0) / 1_000_000
            channels = 0
            if c.streams.audio:
                ctx = c.streams.audio[0].codec_context
                channels = int((ctx.layout.nb_channels if ctx.layout is not None else getattr(ctx, "channels", 1)) or 1)
            return Streams(c.format.name, video, audio, duration, channels)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise ArchiveError(f"not a media file ffmpeg can read: {path.name} ({exc})") from exc


def top_level_boxes(path: Path, limit: int = 64) -> list[str]:
    """The ISO-BMFF box types at the top of the file, in order."""
    boxes: list[str] = []
    size_total = path.stat().st_size
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size_total and len(boxes) < limit:
            f.seek(offset)
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
            elif size == 0:
                size = size_total - offset
            if size < 8:
                break
            boxes.append(kind.decode("latin-1"))
            offset += size
    return boxes


def truncation(path: Path) -> Optional[str]:
    """Why `path` looks cut short (an MP4/MOV box or a WAV chunk runs past the end), or None."""
    size_total = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            declared = struct.unpack("<I", head[4:8])[0] + 8
            if declared > size_total and declared != 0xFFFFFFFF + 8:
                return f"the WAV header declares {declared} bytes but the file has {size_total}"
            return None
        if head[4:8] != b"ftyp":
            return None
        offset = 0
        while offset + 8 <= size_total:
            f.seek(offset)
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
            elif size == 0:
                return None
            if size < 8:
                return f"a damaged box at byte {offset}"
            if offset + size > size_total:
                return f"its '{kind.decode('latin-1')}' box runs {offset + size - size_total} bytes past the end"
            offset += size
    return None


def is_fast_start(path: Path) -> bool:
    boxes = top_level_boxes(path)
    return "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")


def is_browser_playable(path: Path) -> bool:
    s = streams(path)
    if "mp4" not in s.container and "mov" not in s.container:
        return False
    if s.video not in (None, "h264") or s.audio not in (None, "aac"):
        return False
    return is_fast_start(path)


def make_playable(src: Path, dst: Path) -> None:
    """Write an H.264/AAC fast-start MP4 of `src` to `dst` (via a temp file; copies streams when it can)."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise ArchiveError("ffmpeg is not installed: run scripts/setup.sh (or apt-get install ffmpeg)")
    s = streams(src)
    args = [ffmpeg, "-nostdin", "-v", "error", "-y", *ffmpeg_input_args(), "-i", str(src), "-map", "0:a:0?"]
    if s.video:
        args += ["-map", "0:v:0"]
        args += ["-c:v", "copy"] if s.video == "h264" else ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                                                            "-pix_fmt", "yuv420p"]
    else:
        args += ["-vn"]
    if s.audio:
        args += ["-c:a", "copy"] if s.audio == "aac" else ["-c:a", "aac", "-b:a", "128k"]
    make_dirs(dst.parent)
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}.mp4")
    args += ["-movflags", "+faststart", "-f", "mp4", str(tmp)]
    proc = subprocess.run(args, capture_output=True, text=True, preexec_fn=die_with_parent)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        reason = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        if "No space left" in proc.stderr:
            raise DiskFull("disk full while making the browser-playable copy: free some space and try again")
        raise ArchiveError(f"cannot make a browser-playable copy of {src.name}: {reason}")
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, READ_ONLY)
    os.replace(tmp, dst)
