"""A room with several cameras, as its config says it (pure): each camera's name and source, and the layout of
the picture-in-picture copy made from them.

    [rooms."讯问室1"]
    audio = "Mic A+Mic B"
    cameras = [{ name = "全景", video = "rtsp://admin:pw@10.0.0.7/ch1" },
               { name = "特写", video = "rtsp://10.0.0.8/ch1", rtsp_transport = "udp", video_delay = 0.08 }]
    pip = { main = "全景", inset = "特写", position = "top-right", size = 0.3 }

The first camera is the main one (its original is the session's `original`, with the sound); `pip` names which
camera fills the picture and which is the inset (by default the first and the second), in which corner, and
how wide the inset is (a fraction of the main picture's width). `xunlu record --pip` takes the same keys as
one string: "main=全景,inset=特写,position=bottom-right,size=0.25".

`camera(...)`, `pip_layout(...)` and `parse_pip(...)` raise ValueError with what is wrong, in words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

PIP_POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right")
MAX_CAMERAS = 4
MAX_VIDEO_DELAY = 5.0
_NAME = re.compile(r"^[^\x00-\x1f\x7f\"\\/,=]{1,32}$")


@dataclass(frozen=True)
class RoomCamera:
    """One camera of a room: the name people see (the player's switch), its source, how to ask it for RTSP,
    and how much its picture lags the sound (seconds; None: the recording's `--video-delay`)."""

    name: str
    video: str
    rtsp_transport: Optional[str] = None
    video_delay: Optional[float] = None

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "video": self.video}
        if self.rtsp_transport:
            out["rtsp_transport"] = self.rtsp_transport
        if self.video_delay is not None:
            out["video_delay"] = self.video_delay
        return out


@dataclass(frozen=True)
class PipLayout:
    """The picture-in-picture copy: `inset` drawn over `main` (camera names; None: the first and the second
    camera), in the corner `position`, `size` of the main picture's width, `margin` of its height from the
    edges."""

    main: Optional[str] = None
    inset: Optional[str] = None
    position: str = "top-right"
    size: float = 0.3
    margin: float = 0.03

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in (("main", self.main), ("inset", self.inset)) if v}
        out.update(position=self.position, size=self.size)
        if self.margin != PipLayout.margin:
            out["margin"] = self.margin
        return out


def check_name(name: Any) -> str:
    text = str(name if name is not None else "").strip()
    if not _NAME.match(text):
        raise ValueError(f"camera name {text!r} cannot be used: 1-32 characters, no quotes, slashes, commas, "
                         "'=' or line breaks")
    return text


def _delay(value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) > MAX_VIDEO_DELAY:
        raise ValueError(f"video_delay {value!r} must be a number of seconds between -{MAX_VIDEO_DELAY:g} "
                         f"and {MAX_VIDEO_DELAY:g}")
    return float(value)


def camera(spec: Any, index: int, transport_of) -> RoomCamera:
    """One entry of a room's `cameras` list (a table); `transport_of` checks an RTSP transport."""
    if isinstance(spec, str):
        spec = {"video": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"cameras[{index}] must be a table {{ name = ..., video = ... }}")
    unknown = set(spec) - {"name", "video", "rtsp_transport", "video_delay"}
    if unknown:
        raise ValueError(f"cameras[{index}]: unknown key {sorted(unknown)[0]!r} (known: name, video, "
                         "rtsp_transport, video_delay)")
    video = str(spec.get("video") or "").strip()
    if not video:
        raise ValueError(f"cameras[{index}] has no video source")
    return RoomCamera(check_name(spec.get("name") or f"camera{index + 1}"), video,
                      transport_of(spec.get("rtsp_transport")), _delay(spec.get("video_delay")))


def cameras(value: Any, transport_of) -> tuple[RoomCamera, ...]:
    """A room's `cameras` list: at most MAX_CAMERAS, names unique."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError("cameras must be a list of tables { name = ..., video = ... }")
    found = tuple(camera(spec, i, transport_of) for i, spec in enumerate(value))
    if len(found) > MAX_CAMERAS:
        raise ValueError(f"a room has at most {MAX_CAMERAS} cameras, not {len(found)}")
    names = [c.name for c in found]
    if len(set(names)) != len(names):
        raise ValueError(f"two cameras are called {next(n for n in names if names.count(n) > 1)!r}")
    return found


def pip_layout(value: Any) -> PipLayout:
    """A `pip` table (or None: the defaults)."""
    if value is None:
        return PipLayout()
    if not isinstance(value, dict):
        raise ValueError("pip must be a table { main = ..., inset = ..., position = ..., size = ... }")
    unknown = set(value) - {"main", "inset", "position", "size", "margin"}
    if unknown:
        raise ValueError(f"pip: unknown key {sorted(unknown)[0]!r} (known: main, inset, position, size, margin)")
    position = str(value.get("position", PipLayout.position)).strip().lower().replace("_", "-")
    if position not in PIP_POSITIONS:
        raise ValueError(f"pip position {position!r} is not one of {', '.join(PIP_POSITIONS)}")

    def fraction(key: str, low: float, high: float) -> float:
        raw = value.get(key, getattr(PipLayout, key))
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"pip {key} {raw!r} is not a number") from None
        if isinstance(raw, bool) or not low <= number <= high:
            raise ValueError(f"pip {key} {raw!r} must lie between {low:g} and {high:g}")
        return number

    main, inset = value.get("main"), value.get("inset")
    return PipLayout(check_name(main) if main else None, check_name(inset) if inset else None, position,
                     fraction("size", 0.1, 0.6), fraction("margin", 0.0, 0.2))


def parse_pip(text: Optional[str]) -> Optional[PipLayout]:
    """`--pip "main=全景,inset=特写,position=top-right,size=0.3"` (every key optional; a bare position such as
    "bottom-left" is allowed too); None when not given."""
    if text is None or not text.strip():
        return None
    table: dict[str, Any] = {}
    for part in text.replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep:
            key, value = "position", key
        table[key.strip().lower()] = value.strip()
    return pip_layout(table)


def arrange(names: tuple[str, ...], layout: PipLayout) -> tuple[int, int]:
    """(main, inset): the indices of the cameras the layout names among `names` (ValueError: a name that is
    not a camera, or the same camera twice)."""
    if len(names) < 2:
        raise ValueError("a picture-in-picture needs two cameras")

    def index(name: Optional[str], default: int) -> int:
        if name is None:
            return default
        if name not in names:
            raise ValueError(f"pip names the camera {name!r}, which is not one of {', '.join(names)}")
        return names.index(name)

    main = index(layout.main, 0)
    inset = index(layout.inset, 1 if main != 1 else 0)
    if main == inset:
        raise ValueError(f"pip: the main picture and the inset are the same camera ({names[main]!r})")
    return main, inset
