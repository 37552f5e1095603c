"""What a live session says when a network camera or sound source drops and comes back (pure).

- `lost_event`: the alarm viewers get at once (WebSocket `alarm`, code `source_lost`), also in the snapshot
  while the source is away;
- `gap_record`: the `record.gap` audit entry, in seconds of the recording (`from`, `to`): what the
  recording-gap warning (supervise/facts.py) reads once the session is closed;
- `back_event`: the alarm viewers get when it is back (code `source_back`), with the gap's times.

Sources are named as `MediaInput.describe()` names them: a URL's password masked.
"""
from __future__ import annotations

from typing import Any

GAP_ACTION = "record.gap"
WHAT = {"camera": ("摄像头", "camera"), "video": ("摄像头", "camera"), "audio": ("音频源", "sound source")}


def clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m):02d}:{s:04.1f}"


def _what(role: str) -> tuple[str, str]:
    return WHAT.get(role, ("信号源", "source"))


def lost_event(role: str, gap: Any, at: float) -> dict[str, Any]:
    zh, en = _what(role)
    return {"type": "alarm", "code": "source_lost", "level": "red", "at": round(at, 1), "role": role,
            "source": gap.source, "reason": gap.reason,
            "message": f"{zh}信号中断，正在重连，录制继续 — {en} {gap.source} lost at {clock(at)} "
                       f"({gap.reason}); reconnecting, the recording goes on"}


def gap_record(role: str, gap: Any, start: float, end: float) -> dict[str, Any]:
    """The audit entry's details: seconds in the recording; `back` false when it never came back."""
    return {"source": gap.source, "role": role, "from": round(start, 2), "to": round(max(start, end), 2),
            "seconds": round(max(0.0, end - start), 2), "back": gap.back_at is not None,
            "attempts": gap.attempts, "transport": gap.transport, "reason": gap.reason[:200]}


def back_event(record: dict[str, Any]) -> dict[str, Any]:
    zh, en = _what(record["role"])
    span = f"{clock(record['from'])}–{clock(record['to'])}"
    return {"type": "alarm", "code": "source_back", "level": "yellow", "at": record["to"], "role": record["role"],
            "source": record["source"], "from": record["from"], "to": record["to"],
            "message": f"{zh}已恢复，中断 {record['seconds']:.1f} 秒（{span}，已记录）— {en} {record['source']} "
                       f"back after {record['seconds']:.1f} s; the gap {span} is recorded"}
