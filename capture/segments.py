"""The recording on disk while it is made: HLS segments listed by the live playlist, plus the segment being
written (a `.tmp` file) after a crash. MPEG-TS is a stream format, so the segments' bytes end to end are one
continuous stream; joining them is a remux into one MP4 with fast start, no re-encoding."""
from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path
from typing import Optional

from capture.procs import ffmpeg_path

log = logging.getLogger("xunlu.capture.segments")
TS_PACKET = 188
_SEG = re.compile(r"^seg(\d+)\.ts(\.tmp)?$")


class JoinError(RuntimeError):
    """The segments could not be joined (none there, or ffmpeg refused them)."""


def segment_files(live_dir: Path, include_partial: bool = True) -> list[Path]:
    """Segments in recording order: every `seg*.ts` in the folder (those of the playlist and any written
    after its last update), then the one being written when the recorder died, if asked for."""
    if not live_dir.is_dir():
        return []
    found: list[tuple[int, int, Path]] = []
    for p in live_dir.iterdir():
        m = _SEG.match(p.name)
        if m and (include_partial or not m.group(2)) and p.stat().st_size >= TS_PACKET:
            found.append((int(m.group(1)), 1 if m.group(2) else 0, p))
    found.sort()
    # a .tmp beside a finished segment of the same number is a leftover: keep the finished one
    ordered, seen = [], set()
    for number, _tmp, p in found:
        if number not in seen:
            ordered.append(p)
            seen.add(number)
    return ordered


def playlist_segments(live_dir: Path) -> list[str]:
    path = live_dir / "index.m3u8"
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip() and not line.startswith("#")]


def sync_segments(live_dir: Path, done: set[str]) -> None:
    """fsync finished segments not yet synced (ffmpeg does not), so a power cut loses at most the last."""
    for name in playlist_segments(live_dir):
        if name in done:
            continue
        try:
            fd = os.open(live_dir / name, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        done.add(name)


def join(live_dir: Path, output: Path, duration: Optional[float] = None, comment: str = "") -> Path:
    """Remux all segments into `output` (MP4, fast start, read-only), written via a temp file. `duration`
    (the audio's length) trims video that ran on after the audio ended. `comment` goes into the MP4's
    metadata: the session it belongs to, so that a file played as live twice (a drill, the demo) gives two
    recordings that are not the same bytes."""
    segments = segment_files(live_dir)
    if not segments:
        raise JoinError(f"no recorded segments in {live_dir}")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.tmp-{os.getpid()}{output.suffix}")
    args = [ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "mpegts",
            "-i", "pipe:0", "-map", "0", "-c", "copy"]
    if duration:
        args += ["-t", f"{duration + 0.02:.3f}"]
    if comment:
        args += ["-metadata", f"comment={comment}"]
    args += ["-movflags", "+faststart", "-f", "mp4", str(tmp)]
    return _remux(args, segments, tmp, output)


def _remux(args: list[str], segments: list[Path], tmp: Path, output: Path) -> Path:
    """Run the remux `args` (writing `tmp`) with the segments' bytes on its stdin; `tmp` becomes `output`."""
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for seg in segments:
            with open(seg, "rb") as f:
                data = f.read()
            data = data[: len(data) - len(data) % TS_PACKET]  # a segment cut by a crash
            proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read().decode("utf-8", "replace")
    rc = proc.wait()
    if rc != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        if "No space left" in err:
            raise JoinError("disk full while joining the recording: free some space (the segments are kept)")
        raise JoinError(f"cannot join the recorded segments: {(err.strip().splitlines() or ['ffmpeg failed'])[-1]}")
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, 0o444)
    os.replace(tmp, output)
    return output


def start_time(path: Path, kind: str) -> Optional[float]:
    """The first timestamp (seconds) of the first `kind` ("a" or "v") stream of a media file, as ffprobe
    reads it; None when it has none."""
    found = subprocess.run(["ffprobe", "-v", "error", "-select_streams", f"{kind}:0", "-show_entries",
                            "stream=start_time", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    text = found.stdout.strip().splitlines()
    try:
        return float(text[0]) if text else None
    except ValueError:
        return None


AAC_PRIMING = 1024


def _audio_start(path: Path) -> tuple[Optional[float], Optional[int]]:
    """(first audio timestamp, sample rate) of a segment."""
    found = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                            "stream=start_time,sample_rate", "-of", "default=nw=1", str(path)],
                           capture_output=True, text=True).stdout
    values = dict(line.split("=", 1) for line in found.splitlines() if "=" in line)
    try:
        return float(values["start_time"]), int(values["sample_rate"])
    except (KeyError, ValueError):
        return None, None


def join_camera(camera_dir: Path, live_dir: Path, sound: Path, output: Path, duration: Optional[float] = None,
                comment: str = "") -> Path:
    """A camera recorded beside the recorder's own (capture/cameras.py), as its original: its segments'
    picture with the recording's sound (from `sound`, the joined original), no re-encoding, fast start.
    Both were written on one clock, in MPEG-TS with the same muxer offset: the camera's first frame is placed
    where its time says, against the recording's first audio sample (the recorder's first segment)."""
    segments = segment_files(camera_dir)
    if not segments:
        raise JoinError(f"no recorded segments in {camera_dir}")
    own = segment_files(live_dir)
    audio_zero, rate = _audio_start(own[0]) if own else (None, None)
    first = start_time(segments[0], "v")
    if audio_zero is None or first is None:
        raise JoinError(f"cannot place the camera of {camera_dir.name} on the recording's clock")
    # the recorder's own output starts with its AAC encoder's priming frame (1024 samples before the first):
    # its picture and sound come after it, and so must this camera's
    audio_zero -= AAC_PRIMING / (rate or 48000)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.tmp-{os.getpid()}{output.suffix}")
    args = [ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-itsoffset", f"{first - audio_zero:.6f}", "-f", "mpegts", "-i", "pipe:0", "-i", str(sound),
            "-map", "0:v:0", "-map", "1:a:0?", "-c", "copy"]
    if duration:
        args += ["-t", f"{duration + 0.02:.3f}"]
    if comment:
        args += ["-metadata", f"comment={comment}"]
    args += ["-movflags", "+faststart", "-f", "mp4", str(tmp)]
    return _remux(args, segments, tmp, output)
