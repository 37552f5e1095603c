"""The picture-in-picture copy of a room with several cameras: one camera's original fills the picture, another's
is drawn small in a corner (core/cameras.py `PipLayout`), with the date and time, the room and the case burned
in at the top. It is a playback copy made from the originals once they are joined: the originals are never
drawn on, and a camera that drops while recording cannot hold up the others.

Both originals are on the recording's clock, with the same sound from 0 s: each frame of the main camera is
shown with the inset's frame of that moment (the last one before it; while a camera was away, the black
stand-in its original holds for the gap: capture/cameras.py), and its burned time is the recording's first
audio sample plus the frame's time, on the centre's clock (`timezone`).
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from capture.cameras import FINE_TIME
from capture.procs import ffmpeg_path
from core.cameras import PipLayout
from core.proc import die_with_parent

log = logging.getLogger("xunlu.capture.composite")
CJK_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "Source Han Sans SC")


@dataclass(frozen=True)
class Caption:
    """What is burned into the picture: the time (from `epoch`, the wall clock of the recording's 0 s, on
    `timezone`), the room and the case."""

    epoch: float
    room: Optional[str] = None
    case: Optional[str] = None
    timezone: Optional[str] = None


@dataclass(frozen=True)
class CompositeOptions:
    preset: str = "veryfast"
    crf: int = 23
    threads: int = 0          # x264's threads (0: its own choice)


def caption_text(caption: Caption) -> str:
    """drawtext's text (for a `textfile`, expanded): the frame's date and time, the room, the case."""
    def literal(value: str) -> str:
        return value.replace("\\", "\\\\").replace("%", "\\%").replace("\n", " ")

    parts = [f"%{{pts:localtime:{caption.epoch:.3f}:%Y-%m-%d %H\\:%M\\:%S}}"]
    if caption.room:
        parts.append(literal(caption.room))
    if caption.case:
        parts.append(literal(f"案件 {caption.case}"))
    return "  ".join(parts)


def corner(layout: PipLayout) -> tuple[str, str]:
    """overlay's x and y for the inset in the layout's corner."""
    margin = f"main_h*{layout.margin:g}"
    x = margin if layout.position.endswith("left") else f"main_w-overlay_w-{margin}"
    y = margin if layout.position.startswith("top") else f"main_h-overlay_h-{margin}"
    return x, y


def _font_option() -> str:
    """A font with Chinese glyphs (fontconfig), else a plain one; drawtext's option, escaped."""
    if shutil.which("fc-list"):
        listed = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
        for family in CJK_FONTS:
            if family in listed:
                return f"font='{family}'"
    from capture.recorder import FONTS

    found = next((f for f in FONTS if Path(f).is_file()), None)
    log.warning("no font with Chinese characters found (install fonts-noto-cjk): the room and case may not show")
    return f"fontfile='{found.replace(':', chr(92) + ':')}'" if found else ""


def composite_args(main: Path, inset: Path, inset_size: tuple[int, int], layout: PipLayout, caption_file: Path,
                   output: Path, options: CompositeOptions = CompositeOptions(), font: str = "",
                   duration: Optional[float] = None) -> list[str]:
    """The ffmpeg command line (pure): `inset` scaled to `inset_size` over `main`, the caption at the top (at
    the bottom when the inset takes the top left corner), the main original's sound as it is."""
    w, h = inset_size
    x, y = corner(layout)
    text_y = "h-th-h/30" if layout.position == "top-left" else "h/30"
    path = str(caption_file).replace(":", "\\:")
    draw = (f"drawtext={font + ':' if font else ''}textfile='{path}':expansion=normal:x=w/40:y={text_y}:"
            "fontsize=h/24:fontcolor=white:box=1:boxcolor=black@0.55:boxborderw=6")
    graph = (f"[1:v]scale={w}:{h},setsar=1[inset];"
             f"[0:v][inset]overlay=x={x}:y={y}:eof_action=pass:repeatlast=1,format=yuv420p,{draw}[v]")
    args = [ffmpeg_path(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(main), "-i", str(inset),
            "-filter_complex", graph, "-map", "[v]", "-map", "0:a:0?",
            "-c:v", "libx264", "-preset", options.preset, "-crf", str(options.crf), "-fps_mode", "vfr",
            *FINE_TIME]   # every frame at its camera's time (not moved onto a 1/25 s grid, nor dropped there)
    if options.threads:
        args += ["-threads", str(options.threads)]
    args += ["-c:a", "copy"]
    if duration:
        args += ["-t", f"{duration + 0.02:.3f}"]
    return args + ["-movflags", "+faststart", "-f", "mp4", str(output)]


def picture_size(path: Path) -> tuple[int, int]:
    """(width, height) of a file's first video stream."""
    found = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    try:
        w, h = (int(v) for v in found.stdout.strip().split(",")[:2])
    except ValueError:
        raise CompositeError(f"{path.name} has no picture") from None
    return w, h


def inset_size(main: tuple[int, int], inset: tuple[int, int], layout: PipLayout) -> tuple[int, int]:
    """The inset's size: `layout.size` of the main picture's width, its own shape kept, even numbers."""
    width = max(2, int(main[0] * layout.size) // 2 * 2)
    height = max(2, int(width * inset[1] / max(1, inset[0])) // 2 * 2)
    return width, height


class CompositeError(RuntimeError):
    """The picture-in-picture copy could not be made."""


def make_composite(main: Path, inset: Path, layout: PipLayout, caption: Caption, output: Path,
                   duration: Optional[float] = None, options: CompositeOptions = CompositeOptions()) -> Path:
    """Write the picture-in-picture copy to `output` (MP4, fast start, read-only) via a temp file."""
    size = inset_size(picture_size(main), picture_size(inset), layout)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.tmp-{os.getpid()}{output.suffix}")
    env = dict(os.environ)
    if caption.timezone:
        env["TZ"] = caption.timezone
    with tempfile.TemporaryDirectory(prefix="xunlu-pip-") as work:   # a path drawtext reads without quoting
        caption_file = Path(work) / "caption.txt"
        caption_file.write_text(caption_text(caption), encoding="utf-8")
        done = subprocess.run(composite_args(main, inset, size, layout, caption_file, tmp, options, _font_option(),
                                             duration), capture_output=True, text=True, env=env,
                              preexec_fn=die_with_parent)
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        reason = (done.stderr.strip().splitlines() or ["ffmpeg failed"])[-1]
        raise CompositeError(f"cannot make the picture-in-picture copy: {reason}")
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, 0o444)
    os.replace(tmp, output)
    return output
