"""The live HLS playlist as a viewer gets it (pure functions; api/routes/media.py serves it).

The recorder's own playlist (`live/index.m3u8`, an EVENT playlist: every segment since the start) stays as
ffmpeg writes it: the recording is joined and checked from it. A viewer needs only the newest segments, and
the next one as soon as it is written. So a viewer gets:
- a sliding window of the last WINDOW segments (EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE
  counted on, no PLAYLIST-TYPE:EVENT once segments are left out): a 4-hour session's playlist stays the size
  of a minute's, reloaded every second;
- `EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES` (RFC 8216bis, 6.2.5.2): hls.js then asks for the playlist
  with `_HLS_msn=N` (the next segment's number) and the server answers once segment N is listed, instead of
  hls.js polling once a target duration. That takes up to a segment's length off the live delay.
"""
from __future__ import annotations

from dataclasses import dataclass

WINDOW = 20                 # segments a viewer's playlist lists
SERVER_CONTROL = "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES"


@dataclass(frozen=True)
class Playlist:
    """What a playlist says about its media segments."""
    first: int               # EXT-X-MEDIA-SEQUENCE: the number of its first segment
    count: int               # segments listed
    ended: bool              # EXT-X-ENDLIST: nothing more will come
    target: float            # EXT-X-TARGETDURATION, seconds

    @property
    def next(self) -> int:
        """The number of the segment that will be listed next."""
        return self.first + self.count


class BadDirective(ValueError):
    """An `_HLS_msn` that is not a segment number."""


def parse(text: str) -> Playlist:
    first, count, ended, target = 0, 0, False, 0.0
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            first = int(line.split(":", 1)[1] or 0)
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1] or 0)
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):
            count += 1
    return Playlist(first, count, ended, target)


def msn_of(value: str | None) -> int | None:
    """The `_HLS_msn` delivery directive: a segment number (RFC 8216bis 6.2.5.2), or None when absent."""
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 12:
        raise BadDirective(f"_HLS_msn must be a segment number, not {value[:20]!r}")
    return int(value)


def ready(playlist: Playlist, msn: int | None) -> bool:
    """Whether a request for segment `msn` can be answered now: it is listed, or the recording ended."""
    return msn is None or playlist.ended or msn < playlist.next


def for_viewer(text: str, window: int = WINDOW) -> str:
    """The recorder's playlist cut to its last `window` segments, with the server-control tag."""
    lines = [raw.rstrip("\r") for raw in text.splitlines()]
    header: list[str] = []
    body: list[list[str]] = []          # each segment with the tags before it
    pending: list[str] = []
    tail: list[str] = []
    first = base = 0
    for line in lines:
        if not body and not pending and _header_tag(line):
            if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                first = int(line.split(":", 1)[1] or 0)
                continue
            if line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
                base = int(line.split(":", 1)[1] or 0)
                continue
            if line.startswith("#EXT-X-SERVER-CONTROL"):
                continue
            header.append(line)
        elif line == "#EXT-X-ENDLIST":
            tail.append(line)
        elif line.startswith("#") or not line.strip():
            if line.strip():
                pending.append(line)
        else:
            body.append(pending + [line])
            pending = []
    dropped = body[:-window] if window and len(body) > window else []
    kept = body[len(dropped):]
    discontinuities = sum(1 for seg in dropped for tag in seg if tag == "#EXT-X-DISCONTINUITY")
    if dropped:
        header = [h for h in header if not h.startswith("#EXT-X-PLAYLIST-TYPE")]
    out = [header[0] if header else "#EXTM3U", SERVER_CONTROL, *header[1:],
           f"#EXT-X-MEDIA-SEQUENCE:{first + len(dropped)}"]
    if base + discontinuities:
        out.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{base + discontinuities}")
    for seg in kept:
        out += seg
    out += pending + tail
    return "\n".join(out) + "\n"


def _header_tag(line: str) -> bool:
    if line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
        return True
    return line.startswith("#EXTM3U") or (line.startswith("#EXT-X-") and not line.startswith((
        "#EXT-X-DISCONTINUITY", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-ENDLIST", "#EXT-X-BYTERANGE",
        "#EXT-X-KEY", "#EXT-X-MAP", "#EXT-X-GAP", "#EXT-X-BITRATE", "#EXT-X-DATERANGE")))
